"""Redaction: an admin destroys a message's body and media, here and at Twilio; a tombstone stays."""

from __future__ import annotations

import logging

from . import audit
from .attachments import destroy_blobs
from .extensions import db
from .models import Message, User, utcnow
from .presenters import message_json
from .realtime import journey_room, push
from .twilio_gateway import SendError

log = logging.getLogger(__name__)


def redact(msg: Message, actor: User, gateway) -> list[str]:
    """Destroy the body ciphertext and media blobs, delete Twilio's copies, keep a tombstone.

    Returns what could not be deleted at Twilio (reasons, no ePHI), so the admin can be told; the
    local destruction happens regardless and cannot be undone.
    """
    problems = []
    msg.body = None
    msg.redacted_at, msg.redacted_by_id = utcnow(), actor.id
    for att in msg.attachments:
        destroy_blobs(att)
        if att.source_url:
            try:
                gateway.delete_media(att.source_url)
                att.source_url = None
            except SendError as exc:
                problems.append(f"photo {att.id}: {exc.reason}")
        att.status, att.has_thumbnail = "redacted", False
    if msg.twilio_sid:
        try:
            gateway.delete_message(msg.twilio_sid)
        except SendError as exc:
            problems.append(f"message: {exc.reason}")
    audit.record("message.redact", msg, journey_id=msg.journey_id, twilio_problems=len(problems))
    db.session.flush()
    push("message.updated", message_json(msg), journey_room(msg.journey_id))
    db.session.commit()
    log.info("message id=%s redacted by user id=%s", msg.id, actor.id)
    return problems
