"""Twilio: the REST gateway, its error codes in words, and the webhook check."""
