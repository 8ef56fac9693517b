"""The one audit helper: an append-only trail of who touched which record, without ePHI.

An event's detail names fields, never their values: ids, counts and flags go under any key, and text only
under the keys of TEXT_KEYS, whose text is a code, a field name or a host (a consent state, a role, a
pathway), never words a person wrote. A journey's stage used to reach the trail (and the admin's screen
and audit.csv) in plain text while it was sealed at rest; `record` now refuses text under any other key,
so a caller cannot put a body, name, number, note or stage there, and a new kind of text is a decision
made here.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_request_context, request
from flask_login import current_user

from inbox.common import throttle
from inbox.extensions import db
from inbox.models import AuditEvent

# A flood of refused requests (bad webhook signatures, throttled logins) is evidence, but one row
# per request would let anyone grow the table at will: each source's first few per minute are kept
# in full, the rest only counted (throttle.tally: one row per source and minute).
SAMPLE_PER_MINUTE = 5
WITHHELD = "(withheld)"  # what a detail holds in place of text under a key not in TEXT_KEYS

log = logging.getLogger(__name__)
# The detail keys whose text is a code, a field name, a host or a date the app chose: never words a person
# wrote or a value sealed at rest.
TEXT_KEYS = frozenset(
    {
        "cutoff",  # retention: the moment before which texts were purged
        "device",  # a push subscription's browser and system, from its User-Agent ("Chrome on Windows")
        "fields",  # names of the fields that changed
        "filters",  # the audit viewer's own filters (ids, action names, dates)
        "host",  # a push service's host name
        "label",  # an attachment label from its fixed list
        "method",  # totp or recovery
        "new",  # a role
        "old",  # a role
        "path",  # a webhook's path
        "pathway",  # intake, waitlist or current
        "pending",  # the login step still owed
        "problems",  # a number check's problem codes
        "reason",  # a push subscription's removal code (by_owner, gone, deactivated)
        "role",  # a new staff member's role
        "secret",  # password or code: which secret a re-check asked for
        "source",  # where a journey came from: sms, web, phone, manual
        "state",  # a consent state
        "status",  # a message status
        "time_zone",  # an IANA zone name
        "twilio_sid",  # the practice's number at Twilio
        "via",  # how a consent change came about
        "was",  # the previous status or time zone
    }
)


class AuditDetailError(ValueError):
    """Text under a detail key that is not in TEXT_KEYS: it could be ePHI, so it is never stored."""


def _plain(value: Any) -> bool:
    """Nothing, a flag, a number, or a list of them (ids): no words in it."""
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, bool | int | float)


def checked(action: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The detail with every value plain or under a TEXT_KEYS key. Text under any other key is a bug in
    the caller: under test it raises AuditDetailError naming the key (never its value), so the suite
    catches it; in service the value is withheld and the key logged, because refusing the event would
    fail the request it describes (a webhook's text lost for an audit detail)."""
    for key, value in detail.items():
        if key not in TEXT_KEYS and not _plain(value):
            if current_app and current_app.testing:
                raise AuditDetailError(
                    f"{action}: {key!r} holds text; an audit detail names fields, never values"
                )
            log.error("audit %s: detail %r held text; withheld", action, key)
            detail = {**detail, key: WITHHELD}
    return detail


def record(
    action: str,
    target: Any = None,
    *,
    practice_id: int | None = None,
    user_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session (committed with the work it describes).

    `detail` holds ids, counts, flags and codes only (`checked`): never a body, name, number or stage.
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
        detail=checked(action, detail),
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
