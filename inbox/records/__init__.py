"""Destroying patient data on purpose: an admin's redaction and the retention policy."""
