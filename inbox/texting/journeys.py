"""Contacts and journeys: finding, creating and routing, and the welcome automation on every new journey."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from inbox.common import audit
from inbox.extensions import db
from inbox.models import Contact, Journey, Message, ReadMarker, User
from inbox.presenters import journey_json, message_json
from inbox.realtime import journey_room, practice_room, push, user_room
from inbox.texting.thread import log_activity, touch_journey
from inbox.vocabulary import MOVABLE_KINDS, Direction, Status


def reached_the_contact() -> ColumnElement[bool]:
    """An outbound text the person got: Twilio took it (it has a SID) or a carrier confirmed it, and it
    did not fail; a keyword reply went back in the webhook's own answer, so it is `sent` without a SID."""
    return or_(
        Message.status.in_(("sent", "delivered")),
        and_(Message.status == Status.SENDING, Message.twilio_sid.is_not(None)),
    )


def find_contact(practice_id: int, phone: str) -> Contact | None:
    """The practice's contact with this E.164 number."""
    return db.session.scalar(
        select(Contact).where(Contact.practice_id == practice_id, Contact.phone == phone)
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
) -> Journey:
    """Start a new journey and fire the welcome automation (once per new journey, however it was made)."""
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
    push("journey.updated", journey_json(journey), practice_room(journey.practice_id))
    if welcome:
        from inbox.texting.automations import send_welcome

        send_welcome(journey)
    return journey


def route_inbound(contact: Contact) -> Journey | None:
    """The open journey an inbound text belongs to, in one statement.

    One open journey: that one. Several (a guardian with two children in care): the journey of the
    last outbound text the person actually received, since that is the conversation they are answering
    (a held, queued or cancelled text never reached them); without one, the most recently active.
    None open: None (the caller starts a new inquiry).
    """
    # Per open journey, its newest received outbound text (walks ix_messages_journey_id backwards, stops
    # at the first hit); the journey holding the contact's newest one sorts first.
    last_outbound = (
        select(Message.id)
        .where(
            Message.journey_id == Journey.id,
            Message.contact_id == contact.id,
            Message.direction == Direction.OUTBOUND,
            reached_the_contact(),
        )
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Journey)
        .scalar_subquery()
    )
    return db.session.scalar(
        select(Journey)
        .where(Journey.contact_id == contact.id, Journey.is_open.is_(True))
        .order_by(last_outbound.desc().nulls_last(), Journey.last_activity_at.desc(), Journey.id.desc())
        .limit(1)
        # The inbox row pushed for this text names the assignee: load it now, not lazily later.
        .options(joinedload(Journey.assignee))
    )


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
        .where(Message.journey_id == journey.id, Message.direction != Direction.ACTIVITY)
        .order_by(Message.id.desc())
        .limit(1)
    )
    db.session.flush()
    push("journey.updated", journey_json(journey), practice_room(journey.practice_id))
