"""Tenancy: every lookup of patient data goes through these, scoped to the user's practice."""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from flask_login import current_user

from inbox.extensions import db
from inbox.models import Attachment, Contact, Journey, Message, PracticeNumber

# The tenant-scoped models: each has a practice_id.
Owned = TypeVar("Owned", Journey, Contact, Message, Attachment, PracticeNumber)


def _own(model: type[Owned], record_id: int) -> Owned:
    """A record of the current user's practice, or 404 (another practice's record does not exist for them)."""
    record = db.session.get(model, record_id)
    if record is None or record.practice_id != current_user.practice_id:
        abort(404)
    return record


def journey_or_404(journey_id: int) -> Journey:
    """The user's practice's journey."""
    return _own(Journey, journey_id)


def contact_or_404(contact_id: int) -> Contact:
    """The user's practice's contact."""
    return _own(Contact, contact_id)


def message_or_404(message_id: int) -> Message:
    """The user's practice's message."""
    return _own(Message, message_id)


def attachment_or_404(attachment_id: int) -> Attachment:
    """The user's practice's attachment."""
    return _own(Attachment, attachment_id)


def number_or_404(number_id: int) -> PracticeNumber:
    """The user's practice's texting number."""
    return _own(PracticeNumber, number_id)
