"""Web Push: a safety alert or an @mention reaches a staff member's browser with the tab closed.

Life of a push: the transaction that raises an alert or a mention adds a `PushNotice` (no statement of
its own, and nothing is lost when the push service is slow or down); the worker fans each notice out to
the subscribed browsers of its recipients (one `PushDelivery` each), then sends each delivery with
pywebpush: encrypted to the browser's keys (RFC 8291, aes128gcm), signed with the VAPID key (RFC 8292),
under a lease so that two workers never send the same one. 404/410 means the browser unsubscribed: its
subscription goes. Other failures are retried with backoff, then recorded as failed.

A worker that dies mid-send leaves its lease to expire and the delivery is sent again: a push can repeat
but never be lost, and a repeat replaces the first in the browser (the same `tag`, and the same `Topic`
at the push service) rather than showing twice.

Payloads carry no ePHI: a fixed title, "Open Intake Inbox", and the journey's URL by id.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import requests
from flask import current_app
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlalchemy import case, delete, insert, select, update

from inbox.extensions import db, rowcount
from inbox.models import (
    Message,
    PushDelivery,
    PushNotice,
    PushSubscription,
    SafetyAlert,
    User,
    utcnow,
)
from inbox.notify.subscriptions import endpoint_host, record_removal, succeeded

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5  # sends of one delivery before it is recorded as failed
MAX_FAILURES = 5  # deliveries in a row a browser's push service refused before the subscription goes
TIMEOUT = (5, 10)  # seconds: connect, read
BATCH = 10  # deliveries per worker pass: a slow push service must not hold the texts back for long
KEEP = timedelta(days=30)  # how long sent and failed deliveries stay on record
RETRY_AFTER_CAP = 3600
# How long a push service keeps a push for a browser that is offline, and how urgently it delivers.
TTL = {"safety": 12 * 3600, "mention": 24 * 3600}
URGENCY = {"safety": "high", "mention": "normal"}


def notify_safety(alert: SafetyAlert) -> None:
    """Push a new safety alert to every subscribed browser of the practice's staff (after commit)."""
    db.session.add(PushNotice(practice_id=alert.practice_id, kind="safety", journey=alert.journey))


def notify_mention(note: Message, user: User) -> None:
    """Push a mention to the mentioned person's subscribed browsers (after commit)."""
    db.session.add(
        PushNotice(
            practice_id=note.practice_id,
            kind="mention",
            journey_id=note.journey_id,
            user_id=user.id,
            message_id=note.id,
        )
    )


def payload(notice: PushNotice) -> dict[str, Any]:
    """What the service worker shows: fixed words and ids, never a name, a number or a text's words."""
    url = f"/journeys/{notice.journey_id}"
    if notice.kind == "safety":
        return {
            "kind": "safety",
            "title": "Safety alert",
            "body": "A message needs attention now. Open Intake Inbox.",
            "url": url,
            "tag": f"safety-{notice.journey_id}",
        }
    return {
        "kind": "mention",
        "title": "You were mentioned",
        "body": "A colleague mentioned you in a note. Open Intake Inbox.",
        "url": url,
        "tag": f"mention-{notice.message_id or notice.id}",
    }


def fan_out(now: datetime, limit: int = 50) -> int:
    """One delivery per subscribed browser of each new notice's recipients; each notice exactly once
    (compare-and-set), in a transaction of its own. Returns how many notices were fanned out."""
    done = 0
    pending = select(PushNotice).where(PushNotice.fanned_out_at.is_(None)).order_by(PushNotice.id)
    for notice in db.session.scalars(pending.limit(limit)).all():
        claimed = rowcount(
            db.session.execute(
                update(PushNotice)
                .where(PushNotice.id == notice.id, PushNotice.fanned_out_at.is_(None))
                .values(fanned_out_at=now),
                execution_options={"synchronize_session": False},
            )
        )
        if claimed:
            recipients = (
                select(PushSubscription.id)
                .join(User, User.id == PushSubscription.user_id)
                .where(
                    PushSubscription.practice_id == notice.practice_id,
                    User.practice_id == notice.practice_id,
                    User.active.is_(True),
                )
            )
            if notice.user_id is not None:
                recipients = recipients.where(PushSubscription.user_id == notice.user_id)
            rows = [
                {"notice_id": notice.id, "subscription_id": sid, "status": "pending", "due_at": now}
                for sid in db.session.scalars(recipients)
            ]
            if rows:
                db.session.execute(insert(PushDelivery), rows)
            done += 1
        db.session.commit()
    return done


def drain(worker: str, now: datetime | None = None, limit: int = BATCH) -> int:
    """Fan out new notices, then send the deliveries that are due; returns how many were sent."""
    now = now or utcnow()
    fan_out(now)
    # A worker that died mid-send: its lease ran out, so the delivery goes again (see the docstring).
    # Looked for first: an UPDATE on every idle pass would take SQLite's write lock twice a second.
    expired = (PushDelivery.status == "sending", PushDelivery.lease_until < now)
    if db.session.scalar(select(PushDelivery.id).where(*expired).limit(1)) is not None:
        last_try = PushDelivery.attempts >= MAX_ATTEMPTS  # one that keeps killing its worker stops here
        db.session.execute(
            update(PushDelivery)
            .where(*expired)
            .values(
                status=case((last_try, "failed"), else_="pending"),
                error=case((last_try, "worker died"), else_=PushDelivery.error),
                lease_until=None,
            ),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
    due = (
        select(PushDelivery.id)
        .where(PushDelivery.status == "pending", PushDelivery.due_at <= now)
        .order_by(PushDelivery.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(due))
    sent = 0
    with requests.Session() as http:
        http.max_redirects = 0  # a push service answers; it never sends the worker elsewhere
        for delivery_id in ids:
            claimed = rowcount(
                db.session.execute(
                    update(PushDelivery)
                    .where(PushDelivery.id == delivery_id, PushDelivery.status == "pending")
                    .values(status="sending", lease_until=now + LEASE, attempts=PushDelivery.attempts + 1),
                    execution_options={"synchronize_session": False},
                )
            )
            db.session.commit()
            if claimed:
                sent += _send(delivery_id, http, now)
    return sent


def _vapid() -> Vapid:
    """The app's VAPID signer (built once per key)."""
    key = current_app.config["INBOX_VAPID_PRIVATE_KEY"]
    cache = current_app.extensions.setdefault("inbox_vapid", {})
    if key not in cache:
        cache[key] = Vapid.from_string(key)
    return cache[key]


def _send(delivery_id: int, http: requests.Session, now: datetime) -> int:
    """Send one claimed delivery and record how it went; 1 when the push service took it."""
    delivery = db.session.get(PushDelivery, delivery_id)
    if delivery is None:  # its subscription went meanwhile
        return 0
    sub, notice = delivery.subscription, delivery.notice
    body = payload(notice)
    try:
        webpush(
            subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
            data=json.dumps(body, separators=(",", ":")),
            vapid_private_key=_vapid(),
            vapid_claims={"sub": current_app.config["INBOX_VAPID_SUBJECT"]},
            ttl=TTL[notice.kind],
            headers={"Urgency": URGENCY[notice.kind], "Topic": body["tag"][:32]},
            timeout=TIMEOUT,
            requests_session=http,
        )
    except WebPushException as exc:
        return _failed(delivery, sub, now, exc.status_code, exc.retry_after)
    except requests.RequestException as exc:
        return _failed(delivery, sub, now, None, None, type(exc).__name__)
    except Exception as exc:  # recorded and retried like a network error, never a lease lost in a loop
        log.exception("push failed delivery id=%s", delivery.id)
        return _failed(delivery, sub, now, None, None, type(exc).__name__)
    delivery.status, delivery.sent_at, delivery.lease_until, delivery.error = "sent", utcnow(), None, None
    succeeded(sub)
    db.session.commit()
    log.info(
        "push sent delivery id=%s kind=%s host=%s", delivery.id, notice.kind, endpoint_host(sub.endpoint)
    )
    return 1


def _failed(
    delivery: PushDelivery,
    sub: PushSubscription,
    now: datetime,
    status: int | None,
    retry_after: str | None,
    error: str | None = None,
) -> int:
    """Record a refused or failed send: gone browsers are forgotten, passing trouble is retried."""
    error = f"HTTP {status}" if status is not None else (error or "error")
    host = endpoint_host(sub.endpoint)
    log.warning("push failed delivery id=%s host=%s error=%s", delivery.id, host, error)
    if status in (404, 410):  # the browser unsubscribed, or the subscription expired
        _forget(sub, "gone")
        return 0
    retryable = status is None or status == 429 or status >= 500
    if retryable and delivery.attempts < MAX_ATTEMPTS:
        wait = 10 * 2 ** (delivery.attempts - 1)
        if retry_after and retry_after.isdigit():
            wait = max(wait, min(int(retry_after), RETRY_AFTER_CAP))
        delivery.status, delivery.due_at = "pending", now + timedelta(seconds=wait)
    else:
        delivery.status = "failed"
        sub.failures += 1
    delivery.lease_until, delivery.error = None, error
    if sub.failures >= MAX_FAILURES:
        _forget(sub, "failing")
        return 0
    db.session.commit()
    return 0


def _forget(sub: PushSubscription, reason: str) -> None:
    """Remove a subscription the push service will not take pushes for (its deliveries go with it)."""
    record_removal(sub, reason)
    db.session.execute(
        delete(PushSubscription).where(PushSubscription.id == sub.id),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    db.session.expire_all()


def purge(now: datetime | None = None) -> int:
    """Forget notices (and their deliveries) older than KEEP that were fanned out long ago."""
    cutoff = (now or utcnow()) - KEEP
    removed = rowcount(
        db.session.execute(
            delete(PushNotice).where(PushNotice.fanned_out_at < cutoff),
            execution_options={"synchronize_session": False},
        )
    )
    db.session.commit()
    return removed
