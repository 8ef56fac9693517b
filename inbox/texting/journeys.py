"""Contacts and journeys: finding, creating and routing, and the welcome automation on every new journey."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from inbox.common import audit
from inbox.common.inputs import BadInput, future_moment, parse_id
from inbox.crypto import phone_digest
from inbox.extensions import db
from inbox.models import PATHWAYS, Contact, Journey, Message, ReadMarker, SafetyAlert, User, utcnow
from inbox.presenters import journey_json, message_json
from inbox.realtime import journey_room, practice_room, push, user_room
from inbox.texting.automations import appointment_set, send_welcome
from inbox.texting.queries import unread_counts
from inbox.texting.thread import log_activity, touch_journey
from inbox.vocabulary import MOVABLE_KINDS, Direction, Status


def reached_the_contact() -> ColumnElement[bool]:
    """An outbound text the person got: Twilio took it (it has a SID) or a carrier confirmed it, and it
    did not fail; a keyword reply went back in the webhook's own answer, so it is `sent` without a SID."""
    return or_(
        Message.status.in_((Status.SENT, Status.DELIVERED)),
        and_(Message.status == Status.SENDING, Message.twilio_sid.is_not(None)),
    )


# Built once with bound parameters, as the webhook's route_inbound is: building a statement costs more
# CPU than running it (route_inbound's took ~1 ms of Python per text; the prebuilt one ~0.3 ms in all).
_CONTACT_BY_DIGEST = select(Contact).where(
    Contact.practice_id == bindparam("practice_id"), Contact.phone_index == bindparam("digest")
)


def find_contact(practice_id: int, phone: str) -> Contact | None:
    """The practice's contact with this E.164 number, found by its blind-index digest (the number is sealed)."""
    return db.session.scalar(
        _CONTACT_BY_DIGEST, {"practice_id": practice_id, "digest": phone_digest(practice_id, phone)}
    )


def open_journey(
    contact: Contact,
    *,
    pathway: str = "intake",
    source: str = "manual",
    inquiry: bool = False,
    actor: User | None = None,
    stage: str | None = None,
    welcome: bool = True,
    announce: bool = True,
) -> Journey:
    """Start a new journey and fire the welcome automation (once per new journey, however it was made);
    `announce=False` when the caller pushes the journey itself right after."""
    journey = Journey(
        practice_id=contact.practice_id,
        contact=contact,
        pathway=pathway,
        source=source,
        is_inquiry=inquiry,
        stage=stage or ("New inquiry" if inquiry else "New"),
    )
    db.session.add(journey)
    db.session.flush()
    audit.record("journey.create", journey, user_id=actor.id if actor else None, source=source)
    if announce:
        push("journey.updated", journey_json(journey), practice_room(journey.practice_id))
    if welcome:
        send_welcome(journey)
    return journey


def _route_statement() -> Any:
    """route_inbound's one statement, built once (see _CONTACT_BY_DIGEST): the contact by its digest,
    and beside it (outer-joined) the open journey the routing rule picks for it.

    The rule, as an ORDER BY over the contact's open journeys: per journey its newest received outbound
    text (walks ix_messages_journey_id backwards, stops at the first hit), the journey holding the
    contact's newest one first; then the most recently active."""
    candidate = aliased(Journey)
    last_outbound = (
        select(Message.id)
        .where(
            Message.journey_id == candidate.id,
            Message.contact_id == candidate.contact_id,
            Message.direction == Direction.OUTBOUND,
            reached_the_contact(),
        )
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(candidate)
        .scalar_subquery()
    )
    routed = (
        select(candidate.id)
        .where(candidate.contact_id == Contact.id, candidate.is_open.is_(True))
        .order_by(last_outbound.desc().nulls_last(), candidate.last_activity_at.desc(), candidate.id.desc())
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )
    return (
        select(Contact, Journey)
        .outerjoin(Journey, Journey.id == routed)
        .where(Contact.practice_id == bindparam("practice_id"), Contact.phone_index == bindparam("digest"))
        # The inbox row pushed for this text names the assignee: load it now, not lazily later.
        .options(joinedload(Journey.assignee))
    )


_ROUTE = _route_statement()


def route_inbound(practice_id: int, phone: str) -> tuple[Contact | None, Journey | None]:
    """The practice's contact with this number and the open journey its text belongs to, in one
    statement (the webhook's hot path; find_contact is the same lookup alone).

    One open journey: that one. Several (a guardian with two children in care): the journey of the
    last outbound text the person actually received, since that is the conversation they are answering
    (a held, queued or cancelled text never reached them); without one, the most recently active.
    None open: no journey (the caller starts a new inquiry). An unknown number: neither.
    """
    row = db.session.execute(
        _ROUTE, {"practice_id": practice_id, "digest": phone_digest(practice_id, phone)}
    ).one_or_none()
    return (None, None) if row is None else (row[0], row[1])


def mark_read(user: User, journey: Journey) -> None:
    """Record that this staff member has seen the journey up to its last message."""
    marker = db.session.scalar(
        select(ReadMarker).where(ReadMarker.user_id == user.id, ReadMarker.journey_id == journey.id)
    )
    if marker is None:
        marker = ReadMarker(user_id=user.id, journey_id=journey.id, last_read_message_id=0)
        db.session.add(marker)
    seen = max(marker.last_read_message_id, journey.last_message_id or 0)
    if seen != marker.last_read_message_id:
        # The user's other tabs clear the journey's unread badge too.
        push("journey.read", {"journey_id": journey.id, "last_read_message_id": seen}, user_room(user.id))
    marker.last_read_message_id = seen


class NothingUnread(ValueError):
    """The journey has no text from the contact, so there is nothing to mark unread."""


def mark_unread(user: User, journey: Journey) -> int:
    """Bring back this staff member's unread badge (their marker only): the contact's last text counts
    as unread again. Returns the unread count now; NothingUnread when the contact never texted here."""
    last_inbound = db.session.scalar(
        select(func.max(Message.id)).where(
            Message.journey_id == journey.id, Message.direction == Direction.INBOUND
        )
    )
    if last_inbound is None:
        raise NothingUnread("there is no text from the contact in this journey to mark unread")
    marker = db.session.scalar(
        select(ReadMarker).where(ReadMarker.user_id == user.id, ReadMarker.journey_id == journey.id)
    )
    if marker is None:
        marker = ReadMarker(user_id=user.id, journey_id=journey.id, last_read_message_id=0)
        db.session.add(marker)
    # Never forward: a thread with more unread texts keeps them all.
    marker.last_read_message_id = min(marker.last_read_message_id, last_inbound - 1)
    db.session.flush()
    unread = unread_counts(user, [journey.id]).get(journey.id, 0)
    push("journey.unread", {"journey_id": journey.id, "unread": unread}, user_room(user.id))
    return unread


def wake(journey: Journey) -> None:
    """A snoozed journey comes back into the inbox now (the contact texted): one UPDATE, and none at
    all when it is not snoozed. The caller's journey.updated push carries the change."""
    if journey.snoozed_until is None:
        return
    db.session.execute(
        update(cast(Table, Journey.__table__)).where(Journey.id == journey.id).values(snoozed_until=None)
    )
    set_committed_value(journey, "snoozed_until", None)


def wake_due(now: datetime | None = None, limit: int = 200) -> int:
    """Journeys whose snooze ended come back at the top of the inbox, and every tab hears it (the list
    also hides a snooze only while it lasts, so a late worker never keeps one hidden)."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Journey)
        .where(Journey.snoozed_until.is_not(None), Journey.snoozed_until <= now)
        .options(selectinload(Journey.contact), selectinload(Journey.assignee))
        .order_by(Journey.snoozed_until)
        .limit(limit)
    ).all()
    for journey in due:
        journey.last_activity_at = max(journey.last_activity_at, journey.snoozed_until or now)
        journey.snoozed_until = None
        push("journey.updated", journey_json(journey), practice_room(journey.practice_id))
    db.session.commit()
    return len(due)


class CannotMove(ValueError):
    """The message is not one staff may move, or the target is not another open journey of its contact."""


def move_message(msg: Message, target: Journey, actor: User) -> None:
    """Put a text into the journey it belongs to; both threads hear it and say so in an activity line."""
    source = msg.journey
    if msg.kind not in MOVABLE_KINDS:
        raise CannotMove("only a contact's text or a note can be moved")
    if target.id == source.id or target.contact_id != msg.contact_id:
        raise CannotMove("pick another journey of the same contact")
    msg.journey_id = target.id
    for att in msg.attachments:
        att.journey_id = target.id
    if msg.flags.get("risk"):
        # Its safety alert (open or not) follows the text: the banner and the popup name its journey.
        db.session.execute(
            update(SafetyAlert).where(SafetyAlert.message_id == msg.id).values(journey_id=target.id),
            execution_options={"synchronize_session": False},
        )
    db.session.flush()
    who = actor.display_name
    log_activity(source, f"{who} moved a text to {target.pathway_label} · {target.stage}", actor)
    log_activity(target, f"{who} moved a text here from {source.pathway_label} · {source.stage}", actor)
    _recount_last_message(source)
    if (target.last_message_id or 0) < msg.id:
        touch_journey(target, msg)
    else:
        _recount_last_message(target)
    audit.record("message.move", msg, from_journey_id=source.id, journey_id=target.id)
    moved = {"id": msg.id, "from_journey_id": source.id, "journey_id": target.id}
    push("message.moved", moved, journey_room(source.id))
    push("message.new", message_json(msg), journey_room(target.id))


def _recount_last_message(journey: Journey) -> None:
    """After a move: the journey's newest remaining text drives its inbox row."""
    journey.last_message_id = db.session.scalar(
        select(Message.id)
        .where(
            Message.journey_id == journey.id, Message.direction.not_in((Direction.ACTIVITY, Direction.NOTE))
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    db.session.flush()
    push("journey.updated", journey_json(journey), practice_room(journey.practice_id))


class JourneyChangeError(ValueError):
    """A journey change that cannot be made, in words for the person who asked (answered `status`)."""

    status = 400


class BadSnooze(JourneyChangeError):
    """A snooze time in the past, too far ahead or unreadable (answered 422)."""

    status = 422


def update_journey(journey: Journey, data: dict[str, Any], actor: User) -> dict[str, Any]:
    """Assign, move between pathways and stages, close or reopen, set the appointment and paperwork dates:
    validate, apply, say it in the thread, audit it, fire the appointment confirmation and tell every tab.
    Returns what changed; the caller commits."""
    changes: dict[str, Any] = {}
    if "assignee_id" in data:
        assignee_id = data["assignee_id"]
        if assignee_id is not None:
            assignee_id = parse_id(assignee_id) if isinstance(assignee_id, int) else None
            assignee = db.session.get(User, assignee_id) if assignee_id is not None else None
            if assignee is None or assignee.practice_id != journey.practice_id:
                raise JourneyChangeError("unknown staff member")
        journey.assignee_id = assignee_id
        changes["assignee_id"] = assignee_id
    if "pathway" in data:
        if not isinstance(data["pathway"], str) or data["pathway"] not in PATHWAYS:
            raise JourneyChangeError("unknown pathway")
        journey.pathway = changes["pathway"] = data["pathway"]
    if "stage" in data:
        if not isinstance(data["stage"], str):
            raise JourneyChangeError("stage must be text")
        stage = data["stage"].strip()[:60]
        if not stage:
            raise JourneyChangeError("stage cannot be empty")
        journey.stage = changes["stage"] = stage
    if "is_open" in data:
        if not isinstance(data["is_open"], bool):
            raise JourneyChangeError("is_open must be true or false")
        journey.is_open = changes["is_open"] = bool(data["is_open"])
    for field in ("appointment_at", "paperwork_due_at"):
        if field in data:
            try:
                when = datetime.fromisoformat(data[field]) if data[field] else None
            except (TypeError, ValueError):
                raise JourneyChangeError(f"{field} must be an ISO 8601 date and time") from None
            if when is not None and when.tzinfo is None:
                raise JourneyChangeError(f"{field} needs a time zone offset")
            if when is not None and not _plausible(when):
                raise JourneyChangeError(f"{field} must be between the years {MIN_YEAR} and {MAX_YEAR}")
            setattr(journey, field, when)
            changes[field] = data[field]
    if "snoozed_until" in data:
        changes["snoozed_until"] = _snooze(journey, data["snoozed_until"])
    if not changes:
        raise JourneyChangeError("nothing to change")
    journey.last_activity_at = utcnow()
    for sentence in _activity_sentences(journey, changes, actor):
        log_activity(journey, f"{actor.display_name} {sentence}", actor)
    # The fields by name; of their values only the ids, flags and codes (the stage is sealed at rest, and
    # the dates are the patient's: they stay in the thread's activity lines).
    audit.record(
        "journey.update",
        journey,
        fields=list(changes),
        **{k: changes[k] for k in ("assignee_id", "pathway", "is_open") if k in changes},
    )
    if changes.get("appointment_at"):
        appointment_set(journey)
    push("journey.updated", journey_json(journey), practice_room(journey.practice_id))
    return changes


MIN_YEAR, MAX_YEAR = 1900, 2200


def _snooze(journey: Journey, value: Any) -> str | None:
    """Snooze until a time within a year (null wakes it now); the change as the audit keeps it."""
    try:
        until = None if value is None else future_moment(value, "snoozed_until", utcnow())
    except BadInput as exc:
        raise BadSnooze(str(exc)) from None
    journey.snoozed_until = until
    return until.isoformat() if until else None


def _plausible(when: datetime) -> bool:
    """A date a practice could mean; also keeps the UTC conversion from overflowing (year 1 at +14:00)."""
    try:
        return MIN_YEAR <= when.astimezone(UTC).year <= MAX_YEAR
    except OverflowError:
        return False


def _activity_sentences(journey: Journey, changes: dict[str, Any], actor: User) -> list[str]:
    """What each change reads like in the thread."""
    sentences = []
    if "pathway" in changes:
        sentences.append(f"moved this journey to {journey.pathway_label}")
    if "stage" in changes:
        sentences.append(f"set the stage to {journey.stage}")
    if "assignee_id" in changes:
        if journey.assignee_id is None:
            sentences.append("unassigned this journey")
        elif journey.assignee_id == actor.id:
            sentences.append("took this journey")
        else:
            assignee = db.session.get(User, journey.assignee_id)
            assert assignee is not None  # checked above, when the change was applied
            sentences.append(f"assigned this journey to {assignee.display_name}")
    if "is_open" in changes:
        sentences.append("reopened this journey" if journey.is_open else "closed this journey")
    if changes.get("appointment_at"):
        sentences.append("set an appointment")
    if changes.get("paperwork_due_at"):
        sentences.append("set a paperwork due date")
    if "snoozed_until" in changes:
        until = journey.snoozed_until
        zone = ZoneInfo(journey.contact.practice.timezone)
        sentences.append(
            f"snoozed this journey until {until.astimezone(zone):%a %-d %b, %-I:%M %p}"
            if until
            else "brought this journey back from snooze"
        )
    return sentences
