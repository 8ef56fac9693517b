"""The inbox list and threads, in a fixed number of queries whatever the data size."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from inbox.extensions import db
from inbox.models import Attachment, Journey, Message, ReadMarker, User, utcnow
from inbox.presenters import journey_json
from inbox.vocabulary import Direction

PAGE = 50


def inbox_page(
    user: User,
    *,
    pathway: str | None = None,
    state: str = "open",
    mine: bool = False,
    snoozed: bool = False,
    limit: int = PAGE,
) -> list[dict]:
    """The practice's journeys, most recent activity first, each with its snippet and unread count.
    A snoozed journey is left out until its time (`snoozed` lists only those, soonest back first)."""
    query = (
        select(Journey)
        .where(Journey.practice_id == user.practice_id)
        .options(selectinload(Journey.contact), selectinload(Journey.assignee))
        .order_by(Journey.last_activity_at.desc(), Journey.id.desc())
        .limit(limit)
    )
    if pathway:
        query = query.where(Journey.pathway == pathway)
    if state in ("open", "closed"):
        query = query.where(Journey.is_open.is_(state == "open"))
    if mine:
        query = query.where(Journey.assignee_id == user.id)
    now = utcnow()
    if snoozed:
        query = (
            query.where(Journey.snoozed_until > now)
            .order_by(None)
            .order_by(Journey.snoozed_until, Journey.id)
        )
    else:
        query = query.where(or_(Journey.snoozed_until.is_(None), Journey.snoozed_until <= now))
    journeys = list(db.session.scalars(query))
    if not journeys:
        return []
    last_ids = [j.last_message_id for j in journeys if j.last_message_id]
    last: dict[int | None, Message] = {
        m.id: m
        for m in db.session.scalars(
            select(Message).where(Message.id.in_(last_ids)).options(selectinload(Message.attachments))
        )
    }
    unread = unread_counts(user, [j.id for j in journeys])
    return [journey_json(j, last.get(j.last_message_id), unread.get(j.id, 0)) for j in journeys]


def unread_counts(user: User, journey_ids: list[int]) -> dict[int, int]:
    """Inbound messages newer than the user's read marker, per journey, in one query."""
    marker = (
        select(ReadMarker.journey_id, ReadMarker.last_read_message_id)
        .where(ReadMarker.user_id == user.id)
        .subquery()
    )
    rows = db.session.execute(
        select(Message.journey_id, func.count(Message.id))
        .outerjoin(marker, marker.c.journey_id == Message.journey_id)
        .where(
            Message.journey_id.in_(journey_ids),
            Message.direction == Direction.INBOUND,
            Message.id > func.coalesce(marker.c.last_read_message_id, 0),
        )
        .group_by(Message.journey_id)
    )
    return dict(rows.all())


def thread(journey: Journey, *, after: int = 0, before: int = 0, limit: int = 500) -> list[Message]:
    """A journey's messages oldest first: the newest `limit` of them (before `before`, to page back
    through a long thread), or those after `after` (a reconnecting page's catch-up)."""
    query = (
        select(Message)
        .where(Message.journey_id == journey.id, Message.id > after)
        .options(
            # attachment_json names the reviewer: load them with the page, not one by one.
            selectinload(Message.attachments).selectinload(Attachment.reviewed_by),
            selectinload(Message.author),
            selectinload(Message.contact),
        )
        .limit(limit)
    )
    if after:
        return list(db.session.scalars(query.order_by(Message.id)))
    if before:
        query = query.where(Message.id < before)
    # A long thread opens on its latest messages, not its first ones.
    return list(reversed(db.session.scalars(query.order_by(Message.id.desc())).all()))
