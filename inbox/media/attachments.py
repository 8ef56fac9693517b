"""MMS attachments as durable jobs: fetch safely, process off the event loop, store encrypted.

Once stored, the copy at Twilio is deleted (a practice setting, on by default).

Blobs live under INBOX_MEDIA_DIR with opaque names (the attachment's random uid), sealed with AES-GCM
and bound to their record, so a file copied onto another attachment does not open.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from inbox.common.concurrency import run_cpu
from inbox.crypto import keyring
from inbox.extensions import db, rowcount
from inbox.gateway import Gateway
from inbox.gateway.rest import SendError
from inbox.media import processing as media
from inbox.models import Attachment, utcnow
from inbox.texting.thread import announce
from inbox.vocabulary import AttachmentStatus

log = logging.getLogger(__name__)
VARIANTS = ("original", "thumb")
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)


def _path(att: Attachment, variant: str) -> Path:
    """Where a sealed blob lives: fanned out by uid prefix, named by nothing but the uid."""
    return Path(current_app.config["INBOX_MEDIA_DIR"]) / att.uid[:2] / f"{att.uid}.{variant}"


def _aad(att: Attachment, variant: str) -> str:
    """Associated data binding a blob to its attachment and variant."""
    return f"attachment.{variant}:{att.uid}"


def write_blob(att: Attachment, variant: str, data: bytes) -> None:
    """Seal and write a blob atomically (temp file, fsync, rename)."""
    path = _path(att, variant)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(keyring().seal(data, _aad(att, variant)))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_blob(att: Attachment, variant: str) -> bytes:
    """Open a sealed blob (raises crypto.DecryptionError if it was tampered with or moved)."""
    return keyring().open(_path(att, variant).read_bytes(), _aad(att, variant))


def destroy_blobs(att: Attachment) -> None:
    """Delete both blobs of an attachment (redaction, retention)."""
    for variant in VARIANTS:
        _path(att, variant).unlink(missing_ok=True)


def blob_paths(att: Attachment) -> list[Path]:
    """The blob files that exist for an attachment (key rotation walks these)."""
    return [p for p in (_path(att, v) for v in VARIANTS) if p.exists()]


def _claim_due(now: datetime, limit: int) -> list[int]:
    """Lease due attachment jobs to this worker (compare-and-set, safe across workers)."""
    candidates = db.session.scalars(
        select(Attachment.id)
        .where(
            Attachment.status == AttachmentStatus.PENDING,
            Attachment.next_attempt_at <= now,
            or_(Attachment.lease_until.is_(None), Attachment.lease_until < now),
        )
        .order_by(Attachment.id)
        .limit(limit)
    ).all()
    claimed = []
    for att_id in candidates:
        won = rowcount(
            db.session.execute(
                update(Attachment)
                .where(
                    Attachment.id == att_id,
                    Attachment.status == AttachmentStatus.PENDING,
                    or_(Attachment.lease_until.is_(None), Attachment.lease_until < now),
                )
                .values(lease_until=now + LEASE, attempts=Attachment.attempts + 1)
            )
        )
        if won:
            claimed.append(att_id)
    db.session.commit()
    return claimed


def process_due(gateway: Gateway, *, limit: int = 5, now: datetime | None = None) -> int:
    """Run due media jobs; returns how many finished (ready or given up)."""
    done = 0
    for att_id in _claim_due(now or utcnow(), limit):
        att = db.session.get(Attachment, att_id)
        assert att is not None  # just leased, and attachment rows are tombstoned, never deleted
        done += _run(gateway, att)
    return done


def _run(gateway: Gateway, att: Attachment) -> int:
    """Fetch, process, seal and store one attachment; a failure retries with backoff, then shows."""
    config = current_app.config
    # A pending job has its link: an unusable one is stored unavailable, and only redaction clears it.
    assert att.source_url is not None
    try:
        raw = media.fetch(
            att.source_url,
            allowed_origins=media.parse_origins(config["INBOX_MEDIA_HOSTS"]),
            auth=gateway.media_auth,
        )
        processed = run_cpu(media.process, raw)
    except media.MediaRejected as exc:
        return _give_up(att, exc.reason)
    except media.MediaFetchError as exc:
        if not exc.retryable or att.attempts >= MAX_ATTEMPTS:
            return _give_up(att, exc.reason)
        retry_at = utcnow() + timedelta(seconds=5 * 2**att.attempts)
        _settle(att, next_attempt_at=retry_at, lease_until=None, error=f"Retrying: {exc.reason}")
        db.session.commit()
        return 0
    write_blob(att, "original", processed.data)
    if processed.thumbnail:
        write_blob(att, "thumb", processed.thumbnail)
    ready = _settle(
        att,
        status=AttachmentStatus.READY,
        error=None,
        lease_until=None,
        content_type=processed.content_type,
        size=len(processed.data),
        width=processed.width,
        height=processed.height,
        has_thumbnail=bool(processed.thumbnail),
    )
    if not ready:
        destroy_blobs(att)  # redacted or purged while we fetched: what we just wrote must not outlive it
        db.session.commit()
        return 1
    announce(att.message)
    db.session.commit()
    log.info("attachment ready id=%s type=%s bytes=%s", att.id, att.content_type, att.size)
    _delete_at_twilio(gateway, att)
    return 1


def _settle(att: Attachment, **values: Any) -> bool:
    """Record a job's outcome only while the attachment is still pending: a redaction or purge that
    committed while the photo was being fetched wins (one conditional UPDATE, then the row re-read)."""
    settled = rowcount(
        db.session.execute(
            update(Attachment)
            .where(Attachment.id == att.id, Attachment.status == AttachmentStatus.PENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.refresh(att)
    return bool(settled)


def _give_up(att: Attachment, reason: str) -> int:
    """Show the attachment as unavailable with its reason; staff can retry it."""
    if _settle(att, status=AttachmentStatus.UNAVAILABLE, error=reason[:200], lease_until=None):
        announce(att.message)
    db.session.commit()
    log.warning("attachment unavailable id=%s reason=%s", att.id, reason)
    return 1


def _delete_at_twilio(gateway: Gateway, att: Attachment) -> None:
    """Our encrypted copy is safe: remove Twilio's (a practice setting, on by default)."""
    if not att.message.journey.contact.practice.delete_media_at_twilio or gateway is None:
        return
    if not att.source_url:
        return  # redacted meanwhile: redaction deleted Twilio's copy and cleared the link (redaction.py)
    try:
        gateway.delete_media(att.source_url)
    except SendError as exc:
        log.warning("could not delete media at Twilio attachment id=%s code=%s", att.id, exc.code)
        return
    att.source_url = None
    db.session.commit()
