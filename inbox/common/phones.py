"""Phone numbers in one form: E.164, parsed with Google's libphonenumber."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers.timezone import time_zones_for_number

DEFAULT_REGION = "US"


class InvalidNumber(ValueError):
    """Not a phone number we can text."""


# libphonenumber takes ~0.1 ms a parse, and the same numbers come back all day.
@lru_cache(maxsize=8192)
def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalise a number as staff type it to E.164, or raise InvalidNumber (not cached). Valid, not
    just possible: a typo that has the right length must not become a contact (twilio_e164 is for the
    numbers Twilio sends)."""
    if not raw or len(raw) > 40:
        raise InvalidNumber("enter a phone number")
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# What Twilio writes in To and From for a phone number: E.164, nothing else (no spaces, no prefix).
TWILIO_E164 = re.compile(r"\+[1-9]\d{1,14}")
# A short code (a 3- to 8-digit sender such as a carrier's or a service's), as Twilio writes it.
SHORT_CODE = re.compile(r"\d{3,8}")


# The same senders write all day: cached as to_e164 is.
@lru_cache(maxsize=8192)
def twilio_e164(raw: str) -> str:
    """A number as Twilio sent it in a webhook, checked to be a possible E.164 number, or InvalidNumber.

    Not `is_valid_number`, as for a number staff type: Twilio has already delivered this text, and new
    area codes reach carriers months before they reach the library's metadata. Refusing such a number
    would lose the person's text; being possible (the right length for its country) is all it needs.
    """
    if not TWILIO_E164.fullmatch(raw):
        raise InvalidNumber("not an E.164 number")
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber("not a phone number") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_short_code(raw: str) -> bool:
    """Whether Twilio's To or From is a short code rather than a phone number."""
    return bool(SHORT_CODE.fullmatch(raw))


def pretty(e164: str) -> str:
    """A number as people write it (national format in its own country)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


# A number that maps to more zones than this is non-geographic (toll-free, or a whole country's list,
# which for +1 spans Guam to Halifax): it says nothing about where the person sleeps.
MAX_ZONES_FROM_NUMBER = 4
# The zones staff pick from on the journey page, as people in the US name them.
COMMON_US_ZONES = {
    "America/New_York": "Eastern (New York)",
    "America/Chicago": "Central (Chicago)",
    "America/Denver": "Mountain (Denver)",
    "America/Phoenix": "Arizona (Phoenix)",
    "America/Los_Angeles": "Pacific (Los Angeles)",
    "America/Anchorage": "Alaska (Anchorage)",
    "Pacific/Honolulu": "Hawaii (Honolulu)",
    "America/Puerto_Rico": "Atlantic (Puerto Rico)",
}


def is_time_zone(name: object) -> bool:
    """An IANA time zone name this machine knows ("America/Chicago")."""
    return isinstance(name, str) and name in _known_zones()


@cache
def _known_zones() -> frozenset[str]:
    """Every IANA zone name of the system's (or tzdata's) database, read once."""
    return frozenset(available_timezones())


def zones_for_number(e164: str) -> tuple[str, ...]:
    """The time zones a number's area lies in (two for an area code that straddles a line); empty when
    the number says nothing of where its owner is (unknown, toll-free or non-geographic)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in time_zones_for_number(parsed) if is_time_zone(z))
    return zones if len(zones) <= MAX_ZONES_FROM_NUMBER else ()


def zone_place(zone: str) -> str:
    """Where a zone's clock is, as staff read it: "New York", "Honolulu", "North Dakota/Center"."""
    return zone.split("/", 1)[-1].replace("_", " ")


def number_zones_label(e164: str) -> str:
    """Where a number's clock is, for the "From the number (…)" choice: "New York", "Denver or Center"."""
    zones = zones_for_number(e164)
    return " or ".join(zone_place(z) for z in zones) if zones else "not known: the practice's clock only"
