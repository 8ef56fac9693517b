"""Reaching staff who are not looking at a page: Web Push to their subscribed browsers (`webpush`), and
which browsers those are (`subscriptions`)."""
