"""The durable outbox: outbound messages are the queue, and nothing leaves without the consent decision.

Life of an outbound text: ``compose()`` asks the decision and stores it as ``queued`` (or
``held_for_consent``); a worker claims it with a lease (compare-and-set, plus ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), asks the decision again, takes a pacing slot of the sender number, marks it handed over, and
only then calls Twilio. A crash before the hand-over is retried; a crash or timeout after it leaves the
message ``unconfirmed`` for staff to check, because resending could text the patient twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, and_, bindparam, case, exists, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from inbox.extensions import db, rowcount
from inbox.gateway import Gateway
from inbox.gateway.errors import error_reason
from inbox.gateway.rest import SendError
from inbox.models import Contact, Journey, Message, PracticeNumber, User, utcnow
from inbox.texting import consent, safety
from inbox.texting.templating import placeholder_values, render
from inbox.texting.thread import announce, insert_message, set_status, touch_journey
from inbox.texting.wording import DEFAULT_OPT_IN_TEXT
from inbox.vocabulary import CANCELLABLE, STATUS_RANK, ConsentState, Direction, Kind, Status

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
# Staff asking again within this long of the last opt-in request must confirm it (`force`).
OPT_IN_REQUEST_GAP = timedelta(hours=24)
MAX_ATTEMPTS = 5
SCHEDULED_REASON = "scheduled: the consent rules apply when it is due"


class Blocked(Exception):
    """The consent decision forbids this text; `reason` says why in words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AskedRecently(Exception):
    """Staff asked for another opt-in request within OPT_IN_REQUEST_GAP of the last one, unconfirmed."""

    def __init__(self, last_sent_at: datetime):
        super().__init__("an opt-in request was sent less than 24 hours ago")
        self.reason = str(self)
        self.last_sent_at = last_sent_at


@dataclass(frozen=True)
class Preview:
    """What would happen if staff pressed Send now."""

    body: str
    decision: consent.Decision


def compose(
    journey: Journey,
    body: str,
    *,
    kind: str = "staff",
    author: User | None = None,
    template_id: int | None = None,
    now: datetime | None = None,
    number: PracticeNumber | None = None,
    by_contact: bool = False,
    send_at: datetime | None = None,
) -> Message:
    """Store an outbound text for the worker, as the consent decision allows; raise Blocked if it does not.

    `number` is the sender when the caller already knows it (the opt-in request after a held text).
    `by_contact`: the person's own text or form caused this one, so an opt-in request it needs may go
    inside quiet hours (kept on the request, since the worker asks the decision again).
    `send_at`: a follow-up that waits, `scheduled`, until then; the decision is asked again at that
    moment (release_scheduled), so only a text that is blocked already is refused now."""
    contact = journey.contact
    decision = consent.decide(contact, kind, now, by_contact=by_contact)
    if decision.action == "block":
        raise Blocked(decision.reason)
    number = number or _sender_number(journey)
    flags: dict = {"by_contact": True} if by_contact and kind == Kind.OPT_IN_REQUEST else {}
    status = Status.HELD_FOR_CONSENT if decision.action == "hold" else Status.QUEUED
    not_before, reason = decision.not_before, decision.reason
    if send_at is not None:
        status, not_before, reason = Status.SCHEDULED, send_at, SCHEDULED_REASON
        flags["scheduled_for"] = send_at.isoformat()
    msg = insert_message(
        journey,
        direction=Direction.OUTBOUND,
        kind=kind,
        body=body,
        status=status,
        not_before=not_before,
        consent_decision=reason,
        author=author,
        template_id=template_id,
        number_id=number.id,
        flags=flags,
        created_at=now or utcnow(),  # the clock the decision used, so time-based automations agree
    )
    announce(msg, "message.new")
    touch_journey(journey, msg)
    if status == Status.HELD_FOR_CONSENT:
        _ask_for_consent(journey, number, by_contact=by_contact, now=now)
    return msg


# What a scheduled text becomes when it is due, by the decision's action at that moment.
_RELEASED = {"send": Status.QUEUED, "delay": Status.QUEUED, "hold": Status.HELD_FOR_CONSENT}


def release_scheduled(now: datetime | None = None, limit: int = 100) -> int:
    """Scheduled follow-ups that are due meet the consent decision now, as if staff pressed Send then
    (but waiting out quiet hours): queued, delayed, held (asking for consent) or cancelled with the
    reason. Compare-and-set per text, so a cancel or a STOP that got there first wins."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Message)
        .where(Message.status == Status.SCHEDULED, Message.not_before <= now)
        .order_by(Message.id)
        .limit(limit)
    ).all()
    for msg in due:
        decision = consent.decide(msg.contact, msg.kind, now, scheduled=True)
        values: dict = {
            "status": _RELEASED.get(decision.action, Status.CANCELLED),
            "not_before": decision.not_before,
            "consent_decision": decision.reason,
            "updated_at": utcnow(),
        }
        if decision.action == "block":
            values["error_reason"] = f"Cancelled when due, {decision.reason}"
        won = rowcount(
            db.session.execute(
                update(Message)
                .where(Message.id == msg.id, Message.status == Status.SCHEDULED)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        if not won:
            continue
        for key, value in values.items():
            set_committed_value(msg, key, value)
        announce(msg)
        if decision.action == "hold":
            _ask_for_consent(msg.journey, now=now)
    db.session.commit()
    return len(due)


def _ask_for_consent(
    journey: Journey,
    number: PracticeNumber | None = None,
    *,
    by_contact: bool = False,
    now: datetime | None = None,
) -> None:
    """A text was held: if nobody asked this contact yet, the opt-in request goes out (exactly once)."""
    if journey.contact.consent_state == ConsentState.UNKNOWN:
        request_opt_in(journey, automatic=True, number=number, by_contact=by_contact, now=now)


def request_opt_in(
    journey: Journey,
    *,
    actor: User | None = None,
    automatic: bool = False,
    number: PracticeNumber | None = None,
    by_contact: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> Message | None:
    """Send the practice's opt-in request: automatically exactly once; by staff when they choose, but a
    second one within a day only when they confirm it (`force`), else AskedRecently. Inside quiet hours
    it waits for the morning unless the person's own text or form caused it (`by_contact`)."""
    contact = journey.contact
    if not automatic:
        consent.lock(contact)  # before the text's rows; an automatic one's caller wrote its held text
    if contact.consent_state == ConsentState.OPTED_IN:
        raise Blocked(f"{contact.first_name or 'The contact'} has already opted in")
    last = contact.opt_in_requested_at
    if not automatic and not force and last is not None and (now or utcnow()) - last < OPT_IN_REQUEST_GAP:
        raise AskedRecently(last)
    if automatic:
        # Compare-and-set, so two held messages racing in two processes still make one request.
        won = rowcount(
            db.session.execute(
                update(Contact)
                .where(Contact.id == contact.id, Contact.consent_state == ConsentState.UNKNOWN)
                .values(consent_state=ConsentState.PENDING)
            )
        )
        if not won:
            return None
    practice = contact.practice
    text = render(practice.opt_in_text or DEFAULT_OPT_IN_TEXT, placeholder_values(practice, contact, actor))
    msg = compose(
        journey, text, kind=Kind.OPT_IN_REQUEST, author=actor, number=number, by_contact=by_contact, now=now
    )
    consent.record(contact, ConsentState.PENDING, "opt_in_request", evidence=text, actor=actor)
    return msg


def preview(journey: Journey, text: str, staff: User) -> Preview:
    """Render placeholders and say what sending would do, without storing anything."""
    practice = journey.contact.practice
    body = render(text, placeholder_values(practice, journey.contact, staff))
    return Preview(body=body, decision=consent.decide(journey.contact, "staff"))


def _sender_statement() -> Select:
    """_sender_number's one statement, built once (every outbound text asks it)."""
    last_texted = (
        select(Message.number_id)
        .where(Message.contact_id == bindparam("contact_id"), Message.direction == Direction.INBOUND)
        .order_by(Message.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(PracticeNumber)
        .where(PracticeNumber.practice_id == bindparam("practice_id"))
        .order_by(case((PracticeNumber.id == last_texted, 0), else_=1), PracticeNumber.id)
        .limit(1)
    )


_SENDER = _sender_statement()


def _sender_number(journey: Journey) -> PracticeNumber:
    """The number the contact last texted, so a reply stays in their conversation (and under the opt-out
    the carrier keeps per sender number); a contact who never texted hears from the practice's first."""
    number = db.session.scalar(
        _SENDER, {"contact_id": journey.contact_id, "practice_id": journey.practice_id}
    )
    if number is None:
        raise Blocked("the practice has no texting number yet")
    return number


def _due_ids(now: datetime, limit: int) -> list[int]:
    """Due queued texts, oldest first, skipping any behind an earlier due text to the same contact."""
    earlier = aliased(Message)
    due = or_(Message.not_before.is_(None), Message.not_before <= now)
    blocked_by_earlier = exists().where(
        and_(
            earlier.contact_id == Message.contact_id,
            earlier.direction == Direction.OUTBOUND,
            earlier.id < Message.id,
            or_(
                earlier.status == Status.SENDING,
                and_(
                    earlier.status == Status.QUEUED,
                    or_(earlier.not_before.is_(None), earlier.not_before <= now),
                ),
            ),
            earlier.twilio_sid.is_(None),
        )
    )
    query = (
        select(Message.id)
        .where(Message.status == Status.QUEUED, due, ~blocked_by_earlier)
        .order_by(Message.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Message)
    return list(db.session.scalars(query))


def _take_pacing_slot(number_id: int, now: datetime) -> bool:
    """Reserve the sender number's next send slot (compare-and-set, safe across workers)."""
    interval = timedelta(seconds=current_app.config["INBOX_SEND_INTERVAL"])
    taken = rowcount(
        db.session.execute(
            update(PracticeNumber)
            .where(
                PracticeNumber.id == number_id,
                or_(PracticeNumber.next_send_at.is_(None), PracticeNumber.next_send_at <= now),
            )
            .values(next_send_at=now + interval)
        )
    )
    return bool(taken)


def _claim(message_id: int, worker: str, now: datetime) -> bool:
    """Lease one queued message to this worker; False if another worker got it first."""
    return bool(
        rowcount(
            db.session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == Status.QUEUED)
                .values(
                    status=Status.SENDING,
                    lease_owner=worker,
                    lease_until=now + LEASE,
                    attempts=Message.attempts + 1,
                )
            )
        )
    )


def reap_expired_leases(now: datetime | None = None) -> int:
    """Recover texts whose worker died: retry those never handed over, flag the ambiguous ones."""
    now = now or utcnow()
    stale = db.session.scalars(
        select(Message).where(
            Message.status == Status.SENDING, Message.twilio_sid.is_(None), Message.lease_until < now
        )
    ).all()
    for msg in stale:
        if msg.handed_over_at is None:
            set_status(msg, Status.QUEUED)
        else:
            set_status(msg, Status.UNCONFIRMED, reason=UNCONFIRMED)
    db.session.commit()
    return len(stale)


def cancel(msg: Message, actor: User) -> bool:
    """Stop a waiting text before it goes (compare-and-set: a worker that claimed it first wins)."""
    reason = f"Cancelled by {actor.display_name}"
    won = rowcount(
        db.session.execute(
            update(Message)
            .where(Message.id == msg.id, Message.status.in_(CANCELLABLE), Message.twilio_sid.is_(None))
            .values(status=Status.CANCELLED, error_reason=reason, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    if not won:
        return False
    for key, value in {"status": Status.CANCELLED, "error_reason": reason}.items():
        set_committed_value(msg, key, value)
    announce(msg)
    return True


UNCONFIRMED = "Outcome unknown: the send may have reached Twilio. Check before sending again."


def drain(gateway: Gateway, worker: str, *, limit: int = 20, now: datetime | None = None) -> int:
    """Send what is due, at most `limit` texts; returns how many were handed to Twilio."""
    now = now or utcnow()
    release_scheduled(now)
    sent = 0
    paced_out: set[int] = set()
    for message_id in _due_ids(now, limit):
        msg = db.session.get(Message, message_id)
        # _due_ids just read the row (messages are tombstoned, never deleted); an outbound text always has
        # its sender number (queue() sets it, and a number with texts cannot be detached).
        assert msg is not None and msg.number_id is not None
        if msg.number_id in paced_out or not _take_pacing_slot(msg.number_id, now):
            paced_out.add(msg.number_id)
            db.session.rollback()
            continue
        if not _claim(message_id, worker, now):
            db.session.rollback()
            continue
        db.session.commit()
        sent += _send_claimed(gateway, msg, now)  # the same object: the session's identity map holds it
    db.session.commit()
    return sent


def _send_claimed(gateway: Gateway, msg: Message, now: datetime) -> int:
    """Ask the decision again, mark the hand-over, call Twilio, and record the answer."""
    db.session.refresh(msg)
    contact = msg.contact
    flags = msg.flags or {}
    decision = consent.decide(
        contact,
        msg.kind,
        now,
        by_contact=bool(flags.get("by_contact")),
        scheduled="scheduled_for" in flags,
    )
    if decision.action == "block":
        set_status(msg, Status.CANCELLED, reason=decision.reason)
    elif decision.action == "hold":
        set_status(msg, Status.HELD_FOR_CONSENT)
        _ask_for_consent(msg.journey, now=now)
    elif decision.action == "delay":
        msg.not_before = decision.not_before
        set_status(msg, Status.QUEUED)
    if decision.action != "send":
        db.session.commit()
        return 0
    # The point of no return, as a compare-and-set: a STOP that cancelled the claim wins.
    handed_over = rowcount(
        db.session.execute(
            update(Message)
            .where(Message.id == msg.id, Message.status == Status.SENDING, Message.handed_over_at.is_(None))
            .values(handed_over_at=utcnow(), consent_decision=decision.reason)
        )
    )
    db.session.commit()  # past this point a crash means "unconfirmed", never a blind resend
    if not handed_over:
        return 0
    db.session.refresh(msg)
    number = db.session.get(PracticeNumber, msg.number_id)
    assert number is not None  # see drain(): an outbound text's number stays attached
    # The row's uid in the callback URL ties a late callback to this row even if we never saw the SID.
    callback = current_app.config["INBOX_PUBLIC_URL"] + f"/twilio/status?m={msg.uid}"
    try:
        result = gateway.send_message(
            from_=number.e164, to=contact.phone, body=msg.body, status_callback=callback
        )
    except SendError as exc:
        _record_failure(msg, exc)
        db.session.commit()
        return 0
    msg.twilio_sid = result.sid
    msg.lease_owner = msg.lease_until = None
    set_status(msg, Status.SENDING)
    db.session.commit()
    log.info("sent message id=%s sid=%s", msg.id, result.sid)
    return 1


def _record_failure(msg: Message, exc: SendError) -> None:
    """Turn a failed send into a visible status; only a retry that can succeed is scheduled."""
    log.warning("send failed message id=%s code=%s retryable=%s", msg.id, exc.code, exc.retryable)
    if exc.ambiguous:
        set_status(msg, Status.UNCONFIRMED, reason=UNCONFIRMED)
    elif exc.code == 21610:
        set_status(msg, Status.FAILED, code=21610)
        consent.record(msg.contact, ConsentState.OPTED_OUT, "carrier_error", evidence="Twilio error 21610")
    elif exc.retryable and msg.attempts < MAX_ATTEMPTS:
        msg.handed_over_at = None
        msg.not_before = utcnow() + timedelta(seconds=2**msg.attempts)
        set_status(msg, Status.QUEUED, reason=f"Retrying: {exc.reason}")
    else:
        set_status(
            msg, Status.FAILED, code=exc.code, reason=error_reason(exc.code) if exc.code else exc.reason
        )


def apply_status_callback(sid: str, status: str, code: int | None, uid: str | None = None) -> Message | None:
    """A Twilio status callback: move forward only, never backwards, and announce it."""
    msg = db.session.scalar(select(Message).where(Message.twilio_sid == sid))
    if msg is None and uid:
        # An "unconfirmed" send did reach Twilio after all: its callback names our row.
        msg = db.session.scalar(select(Message).where(Message.uid == uid, Message.twilio_sid.is_(None)))
        if msg is not None:
            msg.twilio_sid = sid
    if msg is None:
        return None
    status = {
        "accepted": "sending",
        "queued": "sending",
        "scheduled": "sending",
        "canceled": "cancelled",
    }.get(status, status)
    if status not in STATUS_RANK:
        return msg
    if STATUS_RANK[status] > STATUS_RANK.get(msg.status, 0):
        set_status(msg, status, code=code)
        if msg.flags.get("safety_reply"):
            safety.reply_changed(msg)
        if code == 21610:
            consent.record(
                msg.contact,
                ConsentState.OPTED_OUT,
                "carrier_error",
                evidence="Twilio error 21610",
                message_sid=sid,
            )
    return msg
