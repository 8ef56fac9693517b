"""Message templates: placeholders filled from the contact, practice and staff, and SMS segments."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from inbox.models import Contact, Journey, Practice, User

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}")
# The seed CRM's own spellings, so templates pasted from it keep working.
ALIASES = {
    "object.partner_id.firstname": "contact.first_name",
    "object.partner_id.name": "contact.full_name",
}
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


class TemplateError(ValueError):
    """A template names a placeholder we do not know, or one this contact has no value for."""


@dataclass(frozen=True)
class Segments:
    """How an SMS body will be split and billed."""

    encoding: str
    characters: int
    segments: int


def placeholder_values(
    practice: Practice, contact: Contact | None, staff: User | None, journey: Journey | None = None
) -> dict[str, str | None]:
    """Every placeholder a template may use, with its value for this message.

    None marks a placeholder this contact has nothing on file for (no guardian): render() refuses it,
    since "Hi ," is worse than no text. Without a contact (checking a template) every value is known."""
    guardian = (contact.guardian_name or "").strip() if contact else ""
    missing = None if contact is not None else ""
    appointment = journey.appointment_at if journey else None
    # "Hi there" reads better than "Hi ," for a number that texted in without a name yet.
    first_name = (contact.first_name or "there") if contact else ""
    # Who reads the text: the guardian when the number we text is theirs, else the contact.
    reader_is_guardian = bool(contact and contact.guardian_reads_texts and guardian)
    return {
        "practice.name": practice.name,
        "practice.phone": practice.phone or "",
        "practice.email": practice.email or "",
        "practice.website": practice.website or "",
        "contact.first_name": first_name,
        "contact.last_name": contact.last_name if contact else "",
        "contact.full_name": contact.full_name if contact else "",
        "guardian.first_name": guardian.split(" ")[0] if guardian else missing,
        "guardian.full_name": guardian or missing,
        "recipient.first_name": guardian.split(" ")[0] if reader_is_guardian else first_name,
        "recipient.full_name": guardian if reader_is_guardian else (contact.full_name if contact else ""),
        "staff.first_name": staff.first_name if staff else "",
        "staff.full_name": staff.display_name if staff else "",
        "journey.appointment_time": _local_time(appointment, practice.timezone) if appointment else "",
    }


def _local_time(moment: datetime, timezone: str) -> str:
    """A time as the patient reads it, in the practice's time zone ("Mon 24 Nov, 3:30 PM")."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %-d %b, %-I:%M %p")


def render(text: str, values: dict[str, str | None]) -> str:
    """Fill the placeholders; an unknown one, or one with nothing on file, is an error, never a blank."""
    names = {m.group(1): ALIASES.get(m.group(1), m.group(1)) for m in PLACEHOLDER.finditer(text)}
    unknown = sorted(name for name, key in names.items() if key not in values)
    if unknown:
        raise TemplateError("unknown placeholder: " + ", ".join("{{ " + u + " }}" for u in unknown))
    empty = sorted(name for name, key in names.items() if values[key] is None)
    if empty:
        # Only the guardian can be missing today; say which placeholder, so staff can fix the text.
        raise TemplateError("no guardian on file for " + ", ".join("{{ " + e + " }}" for e in empty))

    def fill(m: re.Match[str]) -> str:
        value = values[ALIASES.get(m.group(1), m.group(1))]
        assert value is not None  # the `empty` check above refused every placeholder without a value
        return value

    return PLACEHOLDER.sub(fill, text)


def count_segments(body: str) -> Segments:
    """GSM-7 when every character fits (extended ones take two), otherwise UCS-2 in UTF-16 units."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in body):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / multi)
    return Segments(encoding=encoding, characters=units, segments=segments if units else 0)
