"""Escalation of an unacknowledged safety alert, by text to staff's own phones: the on-call person of the
shift after N minutes (Practice.escalation_minutes), the second after N more, then every active admin.

A durable worker job whose state is the alert's row (`escalation_step`, `escalate_at`) and one
SafetyEscalation row per text. `run_due` claims a due step with a conditional UPDATE (of two workers only
one takes it), writes the step's rows and the next due time, and commits before anything is sent. Each
text is then handed over with a compare-and-set of its own (`sent_at`), committed before Twilio is
called: a crash before it leaves the row to be sent by the next pass once its lease ran out; a crash
after it leaves a row that becomes `ambiguous`, never resent blindly. Acknowledging the alert stops the
chain (safety.acknowledge clears `escalate_at`; texts not yet handed over are skipped).

The text carries no ePHI (wording.ESCALATION_TEXT): it says only that the practice has an alert waiting.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from inbox.extensions import db, rowcount
from inbox.gateway import Gateway
from inbox.gateway.errors import error_reason
from inbox.gateway.rest import SendError
from inbox.models import Practice, PracticeNumber, SafetyAlert, SafetyEscalation, User, utcnow
from inbox.presenters import safety_alert_json
from inbox.realtime import practice_room, push
from inbox.texting import oncall, safety
from inbox.texting.templating import render
from inbox.texting.wording import ESCALATION_TEXT

log = logging.getLogger(__name__)
LAST_STEP = 3  # 1 first on call, 2 second on call, 3 every active admin
LEASE = timedelta(seconds=90)  # longer than a step's sends take (Twilio's timeout is 10 s per text)
MAX_DUE = 20  # alerts per pass
AMBIGUOUS = "Outcome unknown: the text may have reached Twilio, so it was not sent again."
# How Twilio's callback statuses read on an escalation text, and their order (never backwards).
CALLBACK_STATUS = {"accepted": "sending", "queued": "sending", "sending": "sending", "sent": "sent"}
CALLBACK_STATUS |= {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}
RANK = {"sending": 1, "ambiguous": 1, "sent": 2, "delivered": 3, "failed": 3, "skipped": 3}


def schedule(alert: SafetyAlert, now: datetime) -> None:
    """Start a new alert's chain: its first step is due N minutes after it came (no statement of its own)."""
    practice = db.session.get_one(Practice, alert.practice_id)  # loaded already: the identity map has it
    alert.escalate_at = now + timedelta(minutes=practice.escalation_minutes)


def run_due(gateway: Gateway, now: datetime | None = None) -> int:
    """Take every due step and send its texts, then any text a dead worker left unsent; returns how
    many texts were handed to Twilio."""
    now = now or utcnow()
    _settle_stale(now)
    sent = 0
    due = db.session.execute(
        select(SafetyAlert.id, SafetyAlert.escalation_step, SafetyAlert.escalate_at)
        .where(SafetyAlert.escalate_at <= now, SafetyAlert.acknowledged_at.is_(None))
        .order_by(SafetyAlert.escalate_at, SafetyAlert.id)
        .limit(MAX_DUE)
    ).all()
    db.session.commit()
    for alert_id, step, due_at in due:
        assert due_at is not None  # the query asked for escalate_at <= now
        sent += _send(gateway, _take_step(alert_id, step, due_at, now), now)
    stranded = db.session.scalars(
        select(SafetyEscalation.id).where(
            SafetyEscalation.status == "sending",
            SafetyEscalation.sent_at.is_(None),
            SafetyEscalation.created_at < now - LEASE,
        )
    ).all()
    return sent + _send(gateway, list(stranded), now)


def _take_step(alert_id: int, step: int, due_at: datetime, now: datetime) -> list[int]:
    """Claim the alert's next step and record its texts (committed); [] if another worker took it.
    A step that texts nobody (no one in the slot, no phone on file) goes straight on to the next."""
    alert = db.session.get_one(SafetyAlert, alert_id)
    practice = db.session.get_one(Practice, alert.practice_id)
    shift = "office" if safety.in_office_hours(practice, now) else "after_hours"
    plan: list[tuple[int, User, str | None]] = []  # (step, person, why not texted)
    taken = step
    while taken < LAST_STEP and not any(why is None for _, _, why in plan):
        taken += 1
        plan += [(taken, user, _why_not(user)) for user in _recipients(practice.id, taken, shift)]
    next_at = now + timedelta(minutes=practice.escalation_minutes) if taken < LAST_STEP else None
    won = rowcount(
        db.session.execute(
            update(SafetyAlert)
            .where(
                SafetyAlert.id == alert_id,
                SafetyAlert.escalation_step == step,
                SafetyAlert.escalate_at == due_at,
                SafetyAlert.acknowledged_at.is_(None),
            )
            .values(escalation_step=taken, escalate_at=next_at)
            .execution_options(synchronize_session=False)
        )
    )
    if not won:
        db.session.rollback()
        return []
    rows = [
        SafetyEscalation(
            alert_id=alert.id,
            step=n,
            user_id=user.id,
            status="sending" if why is None else "skipped",
            error=why,
            created_at=now,
        )
        for n, user, why in plan
    ]
    db.session.add_all(rows)
    db.session.flush()
    db.session.refresh(alert)
    log.info("safety alert id=%s escalated to step=%s texts=%s", alert.id, taken, len(rows))
    _announce(alert)
    db.session.commit()  # before any send: a crash from here on neither loses nor repeats a text
    return [r.id for r in rows if r.status == "sending"]


def _recipients(practice_id: int, step: int, shift: str) -> list[User]:
    """Who a step texts: the shift's first or second on call, or every active admin."""
    if step < LAST_STEP:
        person = oncall.on_call(practice_id, shift, step)
        return [person] if person is not None else []
    return list(
        db.session.scalars(
            select(User)
            .where(User.practice_id == practice_id, User.role == "admin", User.active.is_(True))
            .order_by(User.id)
        )
    )


def _why_not(user: User) -> str | None:
    """Why a text cannot go to this person (recorded as skipped, visibly), or None when it can."""
    if not user.active:
        return "Not texted: no longer active"
    if oncall.phone_of(user.id) is None:
        return "No phone on file"
    return None


def _send(gateway: Gateway, row_ids: list[int], now: datetime) -> int:
    """Hand each text over (compare-and-set, committed), then call Twilio and record its answer."""
    sent = 0
    for row_id in row_ids:
        row = db.session.get_one(SafetyEscalation, row_id)
        handed_over = rowcount(
            db.session.execute(
                update(SafetyEscalation)
                .where(
                    SafetyEscalation.id == row.id,
                    SafetyEscalation.status == "sending",
                    SafetyEscalation.sent_at.is_(None),
                )
                .values(sent_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        db.session.commit()  # past this point a crash means "ambiguous", never a second text
        if not handed_over:
            continue  # another worker has it
        alert = row.alert
        if alert.acknowledged_at is not None:
            _finish(row, "skipped", "Not sent: the alert was acknowledged first")
            continue
        phone = oncall.phone_of(row.user_id)
        practice = db.session.get_one(Practice, alert.practice_id)
        number = db.session.scalar(
            select(PracticeNumber.e164)
            .where(PracticeNumber.practice_id == practice.id)
            .order_by(PracticeNumber.id)
            .limit(1)
        )
        if phone is None or number is None:
            _finish(row, "skipped" if phone is None else "failed", _missing(phone, number))
            continue
        callback = current_app.config["INBOX_PUBLIC_URL"] + f"/twilio/status?e={row.id}"
        body = render(ESCALATION_TEXT, {"practice.name": practice.name})
        try:
            result = gateway.send_message(from_=number, to=phone, body=body, status_callback=callback)
        except SendError as exc:
            if exc.ambiguous:
                _finish(row, "ambiguous", AMBIGUOUS)
            else:
                _finish(row, "failed", error_reason(exc.code) if exc.code else exc.reason)
            continue
        row.twilio_sid = result.sid
        _finish(row, "sent", None)
        log.info("escalation text id=%s step=%s sid=%s", row.id, row.step, result.sid)
        sent += 1
    return sent


def _missing(phone: str | None, number: str | None) -> str:
    """Why a handed-over text could not go after all."""
    return "No phone on file" if phone is None else "The practice has no texting number"


def _finish(row: SafetyEscalation, status: str, error: str | None) -> None:
    """Record how a text went, tell the open cards, and commit."""
    row.status, row.error = status, error[:200] if error else None
    _announce(row.alert)
    db.session.commit()


def _settle_stale(now: datetime) -> None:
    """Texts handed over by a worker that died before Twilio answered: ambiguous, for people to check."""
    stale = db.session.scalars(
        select(SafetyEscalation).where(
            SafetyEscalation.status == "sending",
            SafetyEscalation.twilio_sid.is_(None),
            SafetyEscalation.sent_at < now - LEASE,
        )
    ).all()
    for row in stale:
        log.warning("escalation text id=%s left unanswered: ambiguous", row.id)
        _finish(row, "ambiguous", AMBIGUOUS)


def apply_status_callback(
    sid: str, status: str, code: int | None, escalation_id: int | None = None
) -> SafetyEscalation | None:
    """Twilio's status callback for an escalation text (found by SID, or by the id in its callback URL
    when the send was ambiguous): forward only, pushed to the open cards. None: not an escalation text."""
    row = db.session.scalar(select(SafetyEscalation).where(SafetyEscalation.twilio_sid == sid))
    if row is None and escalation_id is not None:
        row = db.session.scalar(
            select(SafetyEscalation).where(
                SafetyEscalation.id == escalation_id, SafetyEscalation.twilio_sid.is_(None)
            )
        )
        if row is not None:
            row.twilio_sid = sid  # an ambiguous send did reach Twilio after all
    if row is None:
        return None
    new = CALLBACK_STATUS.get(status)
    if new is not None and RANK[new] > RANK.get(row.status, 0):
        row.status = new
        row.error = (error_reason(code) or "Not delivered")[:200] if new == "failed" else None
        _announce(row.alert)
    return row


def _announce(alert: SafetyAlert) -> None:
    """Every open card of the practice redraws the alert with its steps (after the commit)."""
    practice = db.session.get_one(Practice, alert.practice_id)
    db.session.refresh(alert, ["escalations"])
    push("safety.updated", safety_alert_json(practice, alert), practice_room(practice.id))
