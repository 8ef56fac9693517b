"""The consent rules: keywords, the ledger, and the one decision every sender asks before a text leaves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from inbox.common.phones import zone_place, zones_for_number
from inbox.extensions import db
from inbox.models import ConsentEvent, Contact, Message, OptOutRequest, Practice, User, utcnow
from inbox.presenters import iso
from inbox.realtime import practice_room, push
from inbox.texting.thread import announce, set_statuses
from inbox.texting.wording import PHONE_ATTESTATION
from inbox.vocabulary import LEFT_FOR_TWILIO, ConsentState, Kind, OptOutDecision, Status

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}
# Twilio's own opt-out handling tells us what it did in OptOutType.
OPT_OUT_TYPES = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}
# A patient may revoke consent "in any reasonable way": these get flagged for staff to confirm.
OPT_OUT_LANGUAGE = re.compile(
    r"\b(stop (texting|messaging|sending|contacting)|(don'?t|do not|never) (text|message|contact)"
    r"|no more (texts|messages)|unsubscribe|opt ?(me )?out|remove me|take me off|leave me alone"
    r"|no m[aá]s (mensajes|textos)?|no me (escriban|manden|env[ií]en))",
    re.IGNORECASE,
)
SOURCE_TEXT = {
    "sms_keyword": "by text",
    "carrier_error": "by the carrier (unsubscribed recipient)",
    "staff_manual": "by staff",
    "web_form": "on the web form",
    "phone_attestation": "by phone, attested by staff",
    "opt_in_request": "opt-in request sent",
    "sms_language": "by text in their own words, confirmed by staff",
}
# Kinds of outbound message, each with its own rule in decide().
KINDS = ("staff", "automated", "opt_in_request", "keyword_reply")


@dataclass(frozen=True)
class Decision:
    """What may happen to one outbound text now: send, hold (for consent), delay (quiet hours), block."""

    action: str
    reason: str
    not_before: datetime | None = None

    @property
    def allowed(self) -> bool:
        """True when the text may leave now."""
        return self.action == "send"


def keyword(body: str | None, opt_out_type: str | None = None) -> str | None:
    """`opt_out`, `opt_in` or `help` when the whole message is a keyword (or Twilio says it was)."""
    if opt_out_type and opt_out_type.upper() in OPT_OUT_TYPES:
        return OPT_OUT_TYPES[opt_out_type.upper()]
    word = (body or "").strip().upper().rstrip(".!")
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    if word in HELP_WORDS:
        return "help"
    return None


def reads_like_opt_out(body: str | None) -> bool:
    """An opt-out in other words, which staff should confirm."""
    if not body:
        return False
    return OPT_OUT_LANGUAGE.search(body) is not None


def latest_event(contact: Contact) -> ConsentEvent | None:
    """The newest ledger entry of a contact."""
    return db.session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact.id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )


def explain(contact: Contact, latest: ConsentEvent | None = None) -> str:
    """Why a contact is in their consent state, in words ("opted out by text STOP on 2 Nov"); `latest`
    when the caller holds the ledger's newest entry (it just wrote it)."""
    event = latest or latest_event(contact)
    if event is None:
        return "no consent recorded yet"
    when = event.created_at.strftime("%-d %b")
    how = SOURCE_TEXT.get(event.source, event.source)
    if event.source == "sms_keyword" and event.evidence:
        how = f"by text {event.evidence}"
    words = {
        "opted_out": "opted out",
        "opted_in": "opted in",
        "pending": "opt-in request sent, not answered yet",
        "unknown": "consent evidence recorded",
    }[event.state]
    if event.state == ConsentState.PENDING:
        return f"{words} (last sent {when})"
    return f"{words} {how} on {when}"


@dataclass(frozen=True)
class Night:
    """Quiet hours in force for the practice or the recipient: when they end for all, and for whom."""

    until: datetime
    whose: tuple[
        tuple[str, str], ...
    ]  # (party, zone) whose night lasts until then, e.g. ("the contact", ...)


def recipient_zones(contact: Contact) -> tuple[str, ...]:
    """The recipient's clocks: the zone staff stored for them, else every zone the number's area lies in."""
    if contact.time_zone:
        return (contact.time_zone,)
    return zones_for_number(contact.phone)


def _quiet_end(practice: Practice, zone: str, at: datetime) -> datetime | None:
    """When the practice's quiet hours are on at `at` on the clock of `zone`, the moment they end; else None."""
    local = at.astimezone(ZoneInfo(zone))
    minutes = local.hour * 60 + local.minute
    start, end = practice.quiet_start, practice.quiet_end
    quiet = (minutes >= start or minutes < end) if start > end else (start <= minutes < end)
    if not quiet or start == end:
        return None
    end_local = datetime.combine(local.date(), time(end // 60, end % 60), tzinfo=local.tzinfo)
    if end_local <= local:
        end_local += timedelta(days=1)
    return end_local


def quiet_hours(contact: Contact, now: datetime) -> Night | None:
    """Quiet hours on the practice's clock or the recipient's (each of a number's zones: the strictest
    wins), or None when it is daytime for all of them."""
    practice = contact.practice
    clocks = [("the practice", practice.timezone)] + [("the contact", z) for z in recipient_zones(contact)]
    at = now
    # Morning on one clock may still be night on another; a few rounds settle any mix of US zones.
    for _round in range(2 * len(clocks)):
        ends = [end for _who, zone in clocks if (end := _quiet_end(practice, zone, at)) is not None]
        if not ends:
            break
        at = max(ends)
    if at == now:
        return None
    just_before = at - timedelta(minutes=1)
    whose: dict[str, str] = {}
    for who, zone in clocks:
        if _quiet_end(practice, zone, just_before) == at:
            whose.setdefault(who, zone)
    return Night(at.astimezone(UTC), tuple(whose.items()))


def _waits_until(night: Night) -> str:
    """The reason of a text that waits for quiet hours to end: when, and whose night it is
    ("waits until 8:00 AM for the contact (New York)")."""
    places = {zone_place(z) for _who, z in night.whose}
    if len(places) == 1:
        for_whom = f"{' and '.join(who for who, _z in night.whose)} ({places.pop()})"
    else:
        for_whom = " and ".join(f"{who} ({zone_place(z)})" for who, z in night.whose)
    return f"waits until {night_ends(night)} for {for_whom}"


def night_ends(night: Night) -> str:
    """When quiet hours end, on the clock of the first party whose night it is ("8:00 AM")."""
    zone = night.whose[0][1] if night.whose else "UTC"
    return f"{night.until.astimezone(ZoneInfo(zone)):%-I:%M %p}"


def quiet_note(contact: Contact, now: datetime | None = None) -> str:
    """What the journey page says about quiet hours right now, for automated texts and opt-in requests."""
    night = quiet_hours(contact, now or utcnow())
    if night is None:
        return "Daytime for the practice and the contact: automated texts go now."
    return f"Quiet hours: an automated text {_waits_until(night)}."


def decide(
    contact: Contact,
    kind: str,
    now: datetime | None = None,
    *,
    by_contact: bool = False,
    scheduled: bool = False,
) -> Decision:
    """The consent decision: every sender (composer, automations, retries, the outbox) asks this.

    `by_contact`: the person's own action (a text in, the web form) caused this opt-in request.
    `scheduled`: a staff follow-up set to go later; nobody presses Send at that moment, so like an
    automated text it waits out quiet hours (the practice's and the recipient's)."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    now = now or utcnow()
    practice = contact.practice
    state = contact.consent_state
    if kind == Kind.KEYWORD_REPLY:
        # The answer to STOP/HELP/START itself is required by carriers, whatever the state.
        return Decision("send", "reply to a keyword")
    if state == ConsentState.OPTED_OUT:
        return Decision("block", f"blocked: {explain(contact)}")
    if kind == Kind.OPT_IN_REQUEST:
        if state == ConsentState.OPTED_IN:
            # A request waiting for the morning is moot once they accepted.
            return Decision("block", f"not needed: {explain(contact)}")
        # Answering the person's own text or form at once is expected; staff and automations wait.
        night = None if by_contact else quiet_hours(contact, now)
        if night is not None:
            return Decision("delay", _waits_until(night), night.until)
        return Decision("send", "opt-in request")
    # A reason is stored on the message in plaintext beside its sealed body: it never names the person.
    if practice.require_opt_in and state != ConsentState.OPTED_IN:
        if state == ConsentState.PENDING:
            return Decision("hold", "held until the contact accepts the opt-in request")
        return Decision("hold", "held: the opt-in request goes to the contact first")
    if kind == Kind.AUTOMATED or scheduled:
        night = quiet_hours(contact, now)
        if night is not None:
            return Decision("delay", _waits_until(night), night.until)
    if state == ConsentState.OPTED_IN:
        return Decision("send", explain(contact))
    return Decision("send", "consent implied by the form (opt-in not required)")


def lock(contact: Contact) -> None:
    """Lock the contact's row and re-read it: the first thing a transaction that may change their consent
    does, before it writes any other row (a message, the journey, an opt-out request).

    One order for every such change, contact first: a STOP webhook (the contact, then the requests it
    settles) and a staff confirmation (the request, then the contact) once took the same rows' locks in
    opposite orders, and PostgreSQL ended one of them as a deadlock (the STOP was lost). Now the second
    waits for the first to commit, then sees what it did. The lock is the one record()'s UPDATE of the
    contact takes anyway (FOR NO KEY UPDATE: a text merely added to their thread does not wait), taken
    earlier. SQLite runs one writer at a time and has no FOR UPDATE."""
    db.session.scalars(
        select(Contact).where(Contact.id == contact.id).with_for_update(key_share=True),
        execution_options={"populate_existing": True},
    ).one()  # fetched: the ORM refreshes the object only from rows it reads


def record(
    contact: Contact,
    state: str,
    source: str,
    *,
    evidence: str | None = None,
    actor: User | None = None,
    message_sid: str | None = None,
) -> ConsentEvent:
    """Append to the ledger, update the contact, and apply what the change means for queued texts.

    A caller that writes other rows before this calls lock() first, and decides on the state it re-read."""
    event = ConsentEvent(
        practice_id=contact.practice_id,
        contact_id=contact.id,
        state=state,
        source=source,
        evidence=evidence,
        actor_id=actor.id if actor else None,
        message_sid=message_sid,
    )
    db.session.add(event)
    contact.consent_state = state
    if state == ConsentState.PENDING:
        contact.opt_in_requested_at = utcnow()
    if state == ConsentState.OPTED_OUT:
        _cancel_pending(contact)
        _settle_opt_out_requests(contact)
    elif state == ConsentState.OPTED_IN:
        _release_held(contact)
    db.session.flush()
    push(
        "consent.changed",
        {"contact_id": contact.id, **badge(contact, event)},
        practice_room(contact.practice_id),
    )
    return event


def badge(contact: Contact, latest: ConsentEvent | None = None) -> dict:
    """The consent header's colour (red, amber, green), state, reason in words and last opt-in request;
    `latest` as for explain."""
    state = contact.consent_state
    colour = contact.consent_colour
    reason = explain(contact, latest)
    if state == ConsentState.UNKNOWN and not contact.practice.require_opt_in:
        reason = "consent implied by the form (opt-in not required)"
    return {
        "state": state,
        "colour": colour,
        "reason": reason,
        "opt_in_requested_at": iso(contact.opt_in_requested_at),
    }


def _cancel_pending(contact: Contact) -> None:
    """STOP cancels everything not yet handed to Twilio, at once (claimed-but-unsent included)."""
    pending = [
        msg
        for msg in _outbound(contact, LEFT_FOR_TWILIO)
        # A claimed text already handed to Twilio is too late to cancel.
        if not (msg.status == Status.SENDING and (msg.twilio_sid or msg.handed_over_at))
    ]
    set_statuses(pending, Status.CANCELLED, reason="The contact opted out.")


def _settle_opt_out_requests(contact: Contact) -> None:
    """An opt-out by any route answers the contact's open "may be asking to opt out" requests."""
    settled = db.session.scalars(
        select(OptOutRequest)
        .where(OptOutRequest.contact_id == contact.id, OptOutRequest.decided_at.is_(None))
        .options(selectinload(OptOutRequest.message))
    ).all()
    for request in settled:
        request.decided_at, request.decision = utcnow(), OptOutDecision.SUPERSEDED
        mark_opt_out_flag(request)
    if settled:
        announce_opt_out_requests(contact.practice_id)


def mark_opt_out_flag(request: OptOutRequest) -> None:
    """The thread's "may be asking to opt out" flag says what became of it (confirmed, dismissed...)."""
    msg = request.message
    msg.flags = {**(msg.flags or {}), "opt_out_decision": request.decision}
    announce(msg)


def open_opt_out_requests(practice_id: int) -> int:
    """How many texts of the practice that read like an opt-out wait for staff to decide."""
    return (
        db.session.scalar(
            select(func.count(OptOutRequest.id)).where(
                OptOutRequest.practice_id == practice_id, OptOutRequest.decided_at.is_(None)
            )
        )
        or 0
    )


def announce_opt_out_requests(practice_id: int) -> None:
    """Tell the practice's pages the new count of opt-out requests to confirm (the top bar shows it)."""
    push("opt_out_requests.changed", {"open": open_opt_out_requests(practice_id)}, practice_room(practice_id))


def _release_held(contact: Contact) -> None:
    """Opt-in releases the held texts; the outbox sends them in their original (id) order."""
    set_statuses(_outbound(contact, (Status.HELD_FOR_CONSENT,)), Status.QUEUED)


def _outbound(contact: Contact, statuses: tuple[Status, ...]) -> list[Message]:
    """A contact's outbound messages in the given statuses, oldest first."""
    # Loaded with what message_json() needs, so releasing 1,000 held texts is not 4,000 queries.
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.contact_id == contact.id, Message.status.in_(statuses))
            .options(selectinload(Message.attachments), selectinload(Message.author))
            .order_by(Message.id)
        )
    )


def set_require_opt_in(practice: Practice, required: bool, actor: User | None = None) -> None:
    """Change the practice's opt-in rule; turning it off releases held texts (in their order)."""
    practice.require_opt_in = required
    # Every consent badge may change colour: open journey pages re-read theirs.
    push("practice.consent_rule", {"require_opt_in": required}, practice_room(practice.id))
    if required:
        return  # the worker holds at send time and asks for consent then
    held_ids = db.session.scalars(
        select(Message.id)
        .join(Contact, Contact.id == Message.contact_id)
        .where(
            Message.practice_id == practice.id,
            Message.status == Status.HELD_FOR_CONSENT,
            Contact.consent_state != ConsentState.OPTED_OUT,
        )
        .order_by(Message.id)
    ).all()
    # A practice may hold thousands: one UPDATE per 500, each with what message_json() needs loaded.
    for start in range(0, len(held_ids), 500):
        chunk = held_ids[start : start + 500]
        set_statuses(
            db.session.scalars(
                select(Message)
                .where(Message.id.in_(chunk))
                .options(selectinload(Message.attachments), selectinload(Message.author))
                .order_by(Message.id)
            ).all(),
            Status.QUEUED,
        )


def staff_opt_in_allowed(attestation: str | None) -> bool:
    """A manual opt-in needs the phone-consent sentence attested word for word."""
    return isinstance(attestation, str) and attestation.strip() == PHONE_ATTESTATION
