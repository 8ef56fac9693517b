"""The one audit helper: an append-only trail of who touched which record, without ePHI."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from inbox.common import throttle
from inbox.extensions import db
from inbox.models import AuditEvent

# A flood of refused requests (bad webhook signatures, throttled logins) is evidence, but one row
# per request would let anyone grow the table at will: each source's first few per minute are kept
# in full, the rest only counted (throttle.tally: one row per source and minute).
SAMPLE_PER_MINUTE = 5


def record(
    action: str,
    target: Any = None,
    *,
    practice_id: int | None = None,
    user_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session (committed with the work it describes).

    `detail` must hold ids and codes only: never a body, name or phone number.
    """
    ip = None
    if has_request_context():
        ip = request.remote_addr
        if user_id is None and current_user and current_user.is_authenticated:
            user_id = current_user.id
            practice_id = practice_id or current_user.practice_id
    if practice_id is None and target is not None:
        practice_id = getattr(target, "practice_id", None)
    event = AuditEvent(
        action=action,
        practice_id=practice_id,
        user_id=user_id,
        target_type=type(target).__tablename__ if target is not None else None,
        target_id=getattr(target, "id", None),
        ip=ip,
        detail=detail,
    )
    db.session.add(event)
    return event


def sampled(action: str, target: Any = None, *, bucket: str = "", **fields: Any) -> AuditEvent | None:
    """Like `record`, for an event a flood repeats: per source (the client address) and minute, the
    first SAMPLE_PER_MINUTE are recorded with their number in that minute; the rest are only counted.
    Returns the event, or None when it was only counted."""
    source = request.remote_addr if has_request_context() else None
    nth = throttle.tally(action + bucket, source)
    if nth > SAMPLE_PER_MINUTE:
        return None
    return record(action, target, nth_this_minute=nth, **fields)
