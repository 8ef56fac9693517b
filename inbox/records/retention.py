"""Retention: a practice's policy purges message bodies and media older than N days, here and at Twilio.

`practices.retention_days` NULL keeps everything. Otherwise inbound messages, and outbound ones
whose sending is over, are purged once older than N days: the same destruction as a redaction
(redaction.destroy), with a `purged_at` tombstone instead of a redactor. Messages still in flight
(held for consent, queued, sending, or unconfirmed and waiting for staff) are left alone, and
activity lines are the journey's log, not message content.

Twilio's copies are deleted whatever the practice's `delete_media_at_twilio` says: that setting
is about Twilio's copy right after we stored ours, while the retention window is the outer limit
for every copy. When the setting is on, this sweep is also where a failed post-download deletion
is retried. A Twilio deletion that fails stays pending and is retried on the next run.

The worker runs this on a slow schedule, a bounded batch per pass; `flask --app inbox purge`
runs it by hand. Each batch commits, so a huge purge holds no long transaction and a crash
resumes where it stopped; running it again purges nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from inbox.common import audit
from inbox.extensions import db
from inbox.gateway import Gateway
from inbox.models import Attachment, Message, Practice, utcnow
from inbox.records.redaction import TwilioDeletion, delete_media_copy, delete_twilio_copies, destroy
from inbox.texting.thread import announce
from inbox.vocabulary import FINISHED, AttachmentStatus, Direction

log = logging.getLogger(__name__)
BATCH = 200
# Outbound statuses after which nothing more happens to a message (a late delivery receipt is harmless).
DESTROYED = (AttachmentStatus.REDACTED, AttachmentStatus.PURGED)
# A stored photo's own post-download deletion at Twilio gets this long before the sweep retries it.
MEDIA_GRACE = timedelta(minutes=10)


@dataclass
class Counts:
    """What one run did for one practice (ids and counts only: this goes into the audit trail)."""

    found: int = 0  # messages older than the cutoff, not yet purged, when the run began
    purged: int = 0
    photos: int = 0  # attachments whose blobs were destroyed
    twilio_deleted: int = 0
    twilio_failed: int = 0
    twilio_pending: int = 0  # copies at Twilio still to delete after this run (retried next run)

    @property
    def did_anything(self) -> bool:
        """Worth an audit event: something was purged or deleted, or tried to be."""
        return bool(self.purged or self.twilio_deleted or self.twilio_failed)


def cutoff(practice: Practice, now: datetime) -> datetime | None:
    """Messages created before this are past the practice's retention window (None: keep forever)."""
    if practice.retention_days is None:
        return None
    return now - timedelta(days=practice.retention_days)


def _due(practice: Practice, before: datetime) -> Select[Message]:
    """The messages the policy purges: content past the window, nothing still in flight."""
    return select(Message).where(
        Message.practice_id == practice.id,
        Message.purged_at.is_(None),
        Message.redacted_at.is_(None),
        Message.created_at < before,
        or_(
            Message.direction == Direction.INBOUND,
            and_(Message.direction == Direction.OUTBOUND, Message.status.in_(FINISHED)),
        ),
    )


def _pending_messages(practice: Practice) -> Select[Message]:
    """Destroyed messages whose copy at Twilio (or a photo's) is not confirmed gone yet."""
    return select(Message).where(
        Message.practice_id == practice.id,
        or_(Message.purged_at.is_not(None), Message.redacted_at.is_not(None)),
        or_(
            and_(Message.twilio_sid.is_not(None), Message.twilio_deleted_at.is_(None)),
            Message.attachments.any(Attachment.source_url.is_not(None)),
        ),
    )


def _pending_photos(practice: Practice, now: datetime) -> Select[Attachment]:
    """Stored photos still at Twilio although the practice has Twilio delete them once stored."""
    return select(Attachment).where(
        Attachment.practice_id == practice.id,
        Attachment.status == AttachmentStatus.READY,
        Attachment.source_url.is_not(None),
        Attachment.created_at < now - MEDIA_GRACE,
    )


def _count(query: Select[*tuple[Any, ...]]) -> int:
    """How many rows a query selects."""
    return db.session.execute(
        select(func.count()).select_from(query.subquery())
    ).scalar_one()  # one row, always


def pending_at_twilio(practice: Practice, now: datetime) -> int:
    """How many messages and photos still have a copy at Twilio that should be deleted."""
    pending = _count(_pending_messages(practice))
    if practice.delete_media_at_twilio:
        pending += _count(_pending_photos(practice, now))
    return pending


def _with_thread_fields(query: Select[Message]) -> Select[Message]:
    """Load what destroy() and message_json() touch, so a batch is a few queries, not a few per row."""
    return query.options(
        selectinload(Message.attachments),
        selectinload(Message.author),
        selectinload(Message.contact),
        selectinload(Message.redacted_by),
    )


def _retry_twilio(
    practice: Practice, gateway: Gateway, now: datetime, batch: int, result: TwilioDeletion
) -> None:
    """Retry Twilio deletions that an earlier run (or a redaction, or a media job) could not finish."""
    messages = db.session.scalars(
        _with_thread_fields(_pending_messages(practice)).order_by(Message.id).limit(batch)
    ).all()
    for msg in messages:
        if result.unreachable:
            break
        delete_twilio_copies(msg, gateway, result)
    if practice.delete_media_at_twilio and not result.unreachable:
        for att in db.session.scalars(_pending_photos(practice, now).order_by(Attachment.id).limit(batch)):
            if result.unreachable:
                break
            delete_media_copy(att, gateway, result)
    db.session.commit()


def _purge_batch(
    msgs: Sequence[Message], gateway: Gateway, now: datetime, counts: Counts, result: TwilioDeletion
) -> None:
    """Destroy a batch here and commit, then delete Twilio's copies (pending ones wait for a later run)."""
    for msg in msgs:
        # Blobs are unlinked before the commit: a crash in between leaves the row unpurged, and the
        # next run destroys it again (unlinking is idempotent) rather than leaving a file behind.
        destroy(msg, AttachmentStatus.PURGED)
        msg.purged_at = now
        counts.photos += len(msg.attachments)
    db.session.flush()
    for msg in msgs:
        announce(msg)
    db.session.commit()
    counts.purged += len(msgs)
    for msg in msgs:
        if result.unreachable:
            break
        delete_twilio_copies(msg, gateway, result)
    db.session.commit()
    counts.twilio_deleted, counts.twilio_failed = result.deleted, len(result.failures)


def purge_practice(
    practice: Practice,
    gateway: Gateway,
    now: datetime | None = None,
    *,
    batch: int = BATCH,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Callable[[Counts], None] | None = None,
) -> Counts:
    """Apply one practice's retention policy: retry pending Twilio deletions, then purge in batches.

    `limit` caps how many messages this call purges (the worker's bounded pass); `progress` is
    called with the running counts after each batch. A dry run counts and changes nothing.
    """
    now = now or utcnow()
    before = cutoff(practice, now)
    counts = Counts(found=_count(_due(practice, before)) if before else 0)
    if dry_run:
        counts.twilio_pending = pending_at_twilio(practice, now)
        return counts
    result = TwilioDeletion()
    _retry_twilio(practice, gateway, now, batch, result)
    counts.twilio_deleted, counts.twilio_failed = result.deleted, len(result.failures)
    while before is not None and (limit is None or counts.purged < limit):
        size = batch if limit is None else min(batch, limit - counts.purged)
        msgs = db.session.scalars(
            _with_thread_fields(_due(practice, before)).order_by(Message.id).limit(size)
        ).all()
        if not msgs:
            break
        _purge_batch(msgs, gateway, now, counts, result)
        if progress:
            progress(counts)
    counts.twilio_pending = pending_at_twilio(practice, now)
    if counts.did_anything:
        audit.record(
            "retention.purge",
            practice,
            practice_id=practice.id,
            retention_days=practice.retention_days,
            cutoff=before.isoformat() if before else None,
            **asdict(counts),
        )
        db.session.commit()
        log.info("retention practice id=%s %s", practice.id, asdict(counts))
    return counts


def sweep(gateway: Gateway, now: datetime | None = None, *, limit: int = BATCH) -> bool:
    """The worker's pass over every practice, purging at most `limit` messages; True if work remains."""
    now = now or utcnow()
    budget = limit
    for practice in db.session.scalars(select(Practice).order_by(Practice.id)).all():
        counts = purge_practice(practice, gateway, now, batch=min(budget, BATCH), limit=budget)
        budget -= counts.purged
        if budget <= 0:
            return True
    return False
