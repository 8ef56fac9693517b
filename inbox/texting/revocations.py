"""Revocations in the person's own words ("please stop texting me"): each one waits in the practice's
"Opt-out requests to confirm" list until staff confirm it (opted out, with the text as evidence, and the
one confirmation text) or dismiss it with a reason. The FCC's 2024 rule gives 10 business days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from inbox.extensions import db, rowcount
from inbox.models import Contact, Message, OptOutRequest, Practice, User, utcnow
from inbox.texting import consent
from inbox.texting.outbox import compose
from inbox.texting.templating import placeholder_values, render
from inbox.texting.wording import STOP_CONFIRMATION
from inbox.vocabulary import ConsentState, Kind, OptOutDecision

BUSINESS_DAYS = 10  # 47 CFR 64.1200(a)(10): honour a revocation within ten business days
MAX_REASON = 500


class AlreadyDecided(Exception):
    """Someone decided this request first (or the contact opted out otherwise)."""


def stop_confirmation_text(practice: Practice) -> str | None:
    """The one confirmation an opt-out gets (the STOP keyword's and a confirmed request's), unfilled;
    None when the practice's Twilio number replies to opt-outs itself."""
    return STOP_CONFIRMATION if practice.send_stop_confirmation else None


def open_request(msg: Message, contact: Contact) -> OptOutRequest:
    """Put an inbound text that reads like an opt-out on the practice's list to confirm."""
    request = OptOutRequest(practice_id=msg.practice_id, message_id=msg.id, contact_id=contact.id)
    db.session.add(request)
    consent.announce_opt_out_requests(msg.practice_id)
    return request


def waiting(practice_id: int) -> list[OptOutRequest]:
    """The practice's undecided requests, oldest (nearest its deadline) first."""
    return list(
        db.session.scalars(
            select(OptOutRequest)
            .where(OptOutRequest.practice_id == practice_id, OptOutRequest.decided_at.is_(None))
            .options(selectinload(OptOutRequest.message), selectinload(OptOutRequest.contact))
            .order_by(OptOutRequest.id)
        )
    )


def _is_business_day(day: date) -> bool:
    """Monday to Friday (public holidays are not counted out: the deadline errs early)."""
    return day.weekday() < 5


def due_on(received_at: datetime, zone: str) -> date:
    """The last day to honour a revocation received at `received_at`: ten business days later."""
    day = received_at.astimezone(ZoneInfo(zone)).date()
    left = BUSINESS_DAYS
    while left:
        day += timedelta(days=1)
        left -= _is_business_day(day)
    return day


def business_days_left(received_at: datetime, zone: str, now: datetime | None = None) -> int:
    """Business days (Mon–Fri, on the practice's calendar) until the deadline: 10 on the day it came,
    0 on the last day, negative once overdue."""
    today = (now or utcnow()).astimezone(ZoneInfo(zone)).date()
    deadline = due_on(received_at, zone)
    first, last, sign = (today, deadline, 1) if today <= deadline else (deadline, today, -1)
    days = sum(_is_business_day(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))
    return sign * days


def _decide(request: OptOutRequest, actor: User, decision: OptOutDecision, reason: str | None) -> None:
    """Record who decided and how, once (compare-and-set: of two staff deciding at once, one wins)."""
    won = rowcount(
        db.session.execute(
            update(OptOutRequest)
            .where(OptOutRequest.id == request.id, OptOutRequest.decided_at.is_(None))
            .values(decided_at=utcnow(), decided_by_id=actor.id, decision=decision)
            .execution_options(synchronize_session=False)
        )
    )
    if not won:
        raise AlreadyDecided("this request was decided already")
    db.session.refresh(request)
    request.reason = reason  # sealed to the row, so it is set through the model, after the win
    consent.mark_opt_out_flag(request)
    consent.announce_opt_out_requests(request.practice_id)


def confirm(request: OptOutRequest, actor: User) -> Message | None:
    """Staff agree it was an opt-out: record it with the text as evidence and queue the one confirmation
    text (unless the practice's Twilio number sends its own); returns that text, if any."""
    contact, msg = request.contact, request.message
    consent.lock(contact)  # before the request's own lock: a STOP settling it takes the contact first
    _decide(request, actor, OptOutDecision.CONFIRMED, None)
    if contact.consent_state == ConsentState.OPTED_OUT:
        return None  # they opted out some other way meanwhile, and heard back then
    consent.record(
        contact,
        ConsentState.OPTED_OUT,
        "sms_language",
        evidence=msg.body,
        actor=actor,
        message_sid=msg.twilio_sid,
    )
    text = stop_confirmation_text(contact.practice)
    if text is None:
        return None
    body = render(text, placeholder_values(contact.practice, contact, None))
    return compose(msg.journey, body, kind=Kind.KEYWORD_REPLY, author=actor)


def dismiss(request: OptOutRequest, actor: User, reason: str) -> None:
    """Staff judge it was not an opt-out ("stop texting me at work, call instead"): who and why are kept."""
    _decide(request, actor, OptOutDecision.DISMISSED, reason)
