"""Message templates: placeholders filled from the contact, practice and staff, and SMS segments."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
    """A template names a placeholder we do not know."""


@dataclass(frozen=True)
class Segments:
    """How an SMS body will be split and billed."""

    encoding: str
    characters: int
    segments: int


def placeholder_values(
    practice: Practice, contact: Contact | None, staff: User | None, journey: Journey | None = None
) -> dict[str, str]:
    """Every placeholder a template may use, with its value for this message."""
    guardian = (contact.guardian_name or "") if contact else ""
    appointment = journey.appointment_at if journey else None
    return {
        "practice.name": practice.name,
        "practice.phone": practice.phone or "",
        "practice.email": practice.email or "",
        "practice.website": practice.website or "",
        # "Hi there" reads better than "Hi ," for a number that texted in without a name yet.
        "contact.first_name": (contact.first_name or "there") if contact else "",
        "contact.last_name": contact.last_name if contact else "",
        "contact.full_name": contact.full_name if contact else "",
        "guardian.first_name": guardian.split(" ")[0] if guardian else "",
        "guardian.full_name": guardian,
        "staff.first_name": staff.first_name if staff else "",
        "staff.full_name": staff.display_name if staff else "",
        "journey.appointment_time": _local_time(appointment, practice.timezone) if appointment else "",
    }


def _local_time(moment, timezone: str) -> str:
    """A time as the patient reads it, in the practice's time zone ("Mon 24 Nov, 3:30 PM")."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %-d %b, %-I:%M %p")


def render(text: str, values: dict[str, str]) -> str:
    """Fill the placeholders; an unknown one is an error, never a silent blank."""
    unknown = sorted(
        {m.group(1) for m in PLACEHOLDER.finditer(text) if ALIASES.get(m.group(1), m.group(1)) not in values}
    )
    if unknown:
        raise TemplateError("unknown placeholder: " + ", ".join("{{ " + u + " }}" for u in unknown))
    return PLACEHOLDER.sub(lambda m: values[ALIASES.get(m.group(1), m.group(1))], text)


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
