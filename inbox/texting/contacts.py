"""Staff naming and correcting a contact: validate every field, seal what changed, audit the names of
the fields (never their values) and tell every open page of the practice."""

from __future__ import annotations

import re
from typing import Any

from inbox.common import audit
from inbox.common.inputs import clean
from inbox.common.phones import InvalidNumber, pretty, to_e164
from inbox.models import Contact, User
from inbox.realtime import practice_room, push

# What a reply can be written in, as staff pick it; the code is what the API takes and stores.
LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "tl": "Tagalog",
    "ar": "Arabic",
    "fr": "French",
    "ht": "Haitian Creole",
    "ko": "Korean",
    "ru": "Russian",
    "pt": "Portuguese",
    "asl": "American Sign Language",
}
NAME_FIELDS = {"first_name": 100, "last_name": 100, "guardian_name": 200}
EDITABLE = (*NAME_FIELDS, "email", "guardian_phone", "preferred_language")
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


class ContactChangeError(ValueError):
    """A change that cannot be made, in words for the person who asked (answered 400)."""


def _text(data: dict[str, Any], field: str, limit: int) -> str | None:
    """A field's new text, trimmed; empty or null clears it."""
    value = data[field]
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContactChangeError(f"{field} must be text")
    value = " ".join(clean(value).split())
    if len(value) > limit:
        raise ContactChangeError(f"{field} can be at most {limit} characters")
    return value or None


def _validated(data: dict[str, Any]) -> dict[str, str | None]:
    """Every field of the request checked and normalised, or ContactChangeError for the first bad one."""
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise ContactChangeError(f"these fields cannot be changed here: {', '.join(unknown)}")
    values: dict[str, str | None] = {}
    for field, limit in NAME_FIELDS.items():
        if field in data:
            values[field] = _text(data, field, limit)
    if "email" in data:
        email = _text(data, "email", 254)
        if email is not None and not EMAIL.fullmatch(email):
            raise ContactChangeError("email must look like name@example.com")
        values["email"] = email
    if "guardian_phone" in data:
        phone = _text(data, "guardian_phone", 40)
        try:
            values["guardian_phone"] = to_e164(phone) if phone else None
        except InvalidNumber as exc:
            raise ContactChangeError(f"guardian_phone: {exc}") from exc
    if "preferred_language" in data:
        language = data["preferred_language"] or None
        if language is not None and (not isinstance(language, str) or language not in LANGUAGES):
            raise ContactChangeError("preferred_language must be one of: " + ", ".join(LANGUAGES))
        values["preferred_language"] = language
    return values


def contact_fields(contact: Contact) -> dict[str, Any]:
    """What staff may edit, as the edit form and `contact.updated` carry it (ePHI: staff pages only)."""
    return {
        "id": contact.id,
        "name": contact.full_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": pretty(contact.phone),
        "email": contact.email,
        "guardian": contact.guardian_name,
        "guardian_name": contact.guardian_name,
        "guardian_phone": pretty(contact.guardian_phone) if contact.guardian_phone else None,
        "preferred_language": contact.preferred_language,
        "preferred_language_label": LANGUAGES.get(contact.preferred_language or ""),
    }


def update_contact(contact: Contact, data: dict[str, Any], actor: User) -> list[str]:
    """Apply a staff correction; returns the names of the fields that really changed. The caller commits."""
    changed = []
    for field, value in _validated(data).items():
        was = getattr(contact, field)
        if (was or None) != value:
            setattr(contact, field, "" if value is None and field in ("first_name", "last_name") else value)
            changed.append(field)
    if changed:
        # The field names only: the values are the person's identifiers.
        audit.record("contact.update", contact, user_id=actor.id, fields=changed)
        push("contact.updated", contact_fields(contact), practice_room(contact.practice_id))
    return changed
