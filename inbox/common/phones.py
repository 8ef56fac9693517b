"""Phone numbers in one form: E.164, parsed with Google's libphonenumber."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "US"


class InvalidNumber(ValueError):
    """Not a phone number we can text."""


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalise a number as typed or as Twilio sends it to E.164, or raise InvalidNumber."""
    if not raw or len(raw) > 40:
        raise InvalidNumber("enter a phone number")
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def pretty(e164: str) -> str:
    """A number as people write it (national format in its own country)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
