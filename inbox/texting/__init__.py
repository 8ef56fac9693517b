"""The texting domain: consent, inbound, outbox, journeys, automations, templates and their words."""
