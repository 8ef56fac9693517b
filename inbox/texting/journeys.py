"""Contacts and journeys: finding, creating and routing, and the welcome automation on every new journey."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from inbox.common import audit
from inbox.extensions import db
from inbox.models import Contact, Journey, Message, ReadMarker, User
from inbox.presenters import journey_json
from inbox.realtime import practice_room, push, user_room


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


def log_activity(journey: Journey, text: str, actor: User | None = None) -> Message:
    """An activity line in the thread ("Dana Reyes moved this journey to Waitlist"), stored like a message."""
    from inbox.presenters import message_json
    from inbox.realtime import journey_room

    line = Message(
        practice_id=journey.practice_id,
        journey_id=journey.id,
        contact_id=journey.contact_id,
        direction="activity",
        kind="activity",
        status="logged",
        body=text,
        author_id=actor.id if actor else None,
    )
    db.session.add(line)
    db.session.flush()
    push("message.new", message_json(line), journey_room(journey.id))
    return line


def route_inbound(contact: Contact) -> Journey | None:
    """The open journey an inbound text belongs to, in one statement.

    One open journey: that one. Several (a guardian with two children in care): the journey of the
    last outbound text to this number, since that is the conversation they are answering; without any
    outbound text, the most recently active. None open: None (the caller starts a new inquiry).
    """
    # Per open journey, its newest outbound text (walks ix_messages_journey_id backwards, stops at the
    # first hit); the journey holding the contact's newest outbound text sorts first.
    last_outbound = (
        select(Message.id)
        .where(
            Message.journey_id == Journey.id,
            Message.contact_id == contact.id,
            Message.direction == "outbound",
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
