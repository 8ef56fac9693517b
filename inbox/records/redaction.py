"""Destroying a message: an admin's redaction here, and the one destruction step retention shares.

Body ciphertext and media blobs go at once and for good. Twilio's copies go when Twilio confirms
(a 404 counts): until then `attachment.source_url` stays set and `message.twilio_deleted_at` stays
empty, so the retention sweep retries a failed deletion on a later run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from inbox.common import audit
from inbox.extensions import db
from inbox.gateway import Gateway
from inbox.gateway.rest import SendError
from inbox.media.attachments import destroy_blobs
from inbox.models import Attachment, Message, User, utcnow
from inbox.texting.thread import announce
from inbox.vocabulary import AttachmentStatus

log = logging.getLogger(__name__)


@dataclass
class TwilioDeletion:
    """What a round of deletions at Twilio did: how many copies went, and what failed (no ePHI)."""

    deleted: int = 0
    failures: list[tuple[str, SendError]] = field(default_factory=list)

    @property
    def unreachable(self) -> bool:
        """Twilio looked down (timeouts, 5xx): further calls in this run would only wait too."""
        return any(exc.retryable or exc.ambiguous for _what, exc in self.failures)


def destroy(msg: Message, attachment_status: AttachmentStatus) -> None:
    """Destroy the body ciphertext and the media blobs on disk; cannot be undone."""
    msg.body = None
    for att in msg.attachments:
        destroy_blobs(att)
        att.status, att.has_thumbnail = attachment_status, False


def delete_media_copy(att: Attachment, gateway: Gateway, result: TwilioDeletion) -> None:
    """Delete one photo at Twilio; a cleared source_url records that Twilio confirmed it."""
    if not att.source_url:
        return
    try:
        gateway.delete_media(att.source_url)
    except SendError as exc:
        result.failures.append((f"photo {att.id}", exc))
        return
    att.source_url = None
    result.deleted += 1


def delete_twilio_copies(
    msg: Message, gateway: Gateway, result: TwilioDeletion | None = None
) -> TwilioDeletion:
    """Delete Twilio's copies of a message and its photos, recording each one Twilio confirmed."""
    result = result or TwilioDeletion()
    for att in msg.attachments:
        delete_media_copy(att, gateway, result)
    if msg.twilio_sid and msg.twilio_deleted_at is None:
        try:
            gateway.delete_message(msg.twilio_sid)
        except SendError as exc:
            result.failures.append(("message", exc))
        else:
            msg.twilio_deleted_at = utcnow()
            result.deleted += 1
    return result


def redact(msg: Message, actor: User, gateway: Gateway) -> list[str]:
    """Destroy the body ciphertext and media blobs, delete Twilio's copies, keep a tombstone.

    Returns what could not be deleted at Twilio (reasons, no ePHI), so the admin can be told; the
    local destruction happens regardless and cannot be undone.
    """
    # Twilio first, before anything is written: a write transaction held across a network call keeps
    # SQLite's lock, and under eventlet the worker's busy wait for that lock stalls the whole process,
    # this request included, until the busy timeout. A local failure after this leaves the copies at
    # Twilio confirmed gone only in memory; the retention sweep's retry then meets a 404, which counts.
    deletion = delete_twilio_copies(msg, gateway)
    problems = [f"{what}: {exc.reason}" for what, exc in deletion.failures]
    destroy(msg, AttachmentStatus.REDACTED)
    msg.redacted_at, msg.redacted_by_id = utcnow(), actor.id
    audit.record("message.redact", msg, journey_id=msg.journey_id, twilio_problems=len(problems))
    db.session.flush()
    announce(msg)
    db.session.commit()
    log.info("message id=%s redacted by user id=%s", msg.id, actor.id)
    return problems
