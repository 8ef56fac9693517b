"""The inbox list and threads, in a fixed number of queries whatever the data size."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import selectinload

from inbox.extensions import db
from inbox.models import Attachment, Journey, Message, ReadMarker, SafetyAlert, User, utcnow
from inbox.presenters import journey_json
from inbox.vocabulary import Direction

PAGE = 50


def inbox_page(
    user: User,
    *,
    pathway: str | None = None,
    state: str = "open",
    mine: bool = False,
    waiting: bool = False,
    unassigned: bool = False,
    snoozed: bool = False,
    limit: int = PAGE,
) -> list[dict]:
    """The practice's journeys, most recent activity first, each with its snippet, unread count and
    whether a safety alert waits on it. The views combine: waiting on us, mine, unassigned (mine and
    unassigned together match nothing). A snoozed journey is left out until its time (`snoozed` lists
    only those, soonest back first)."""
    where = _view(
        user, pathway=pathway, state=state, mine=mine, waiting=waiting, unassigned=unassigned, snoozed=snoozed
    )
    order = (
        (Journey.snoozed_until, Journey.id)
        if snoozed
        else (Journey.last_activity_at.desc(), Journey.id.desc())
    )
    query = (
        select(Journey, _safety_open().label("safety_open"))
        .where(*where)
        .options(selectinload(Journey.contact), selectinload(Journey.assignee))
        .order_by(*order)
        .limit(limit)
    )
    rows = db.session.execute(query).all()
    if not rows:
        return []
    journeys = [journey for journey, _ in rows]
    flagged = {journey.id for journey, safety_open in rows if safety_open}
    last_ids = [j.last_message_id for j in journeys if j.last_message_id]
    last: dict[int | None, Message] = {
        m.id: m
        for m in db.session.scalars(
            select(Message)
            .where(Message.id.in_(last_ids))
            .options(selectinload(Message.attachments), selectinload(Message.author))
        )
    }
    unread = unread_counts(user, [j.id for j in journeys])
    return [
        journey_json(j, last.get(j.last_message_id), unread.get(j.id, 0), safety_open=j.id in flagged)
        for j in journeys
    ]


def _safety_open() -> ColumnElement[bool]:
    """The row's journey has an unacknowledged safety alert: a correlated EXISTS in the list's own
    SELECT (ix on safety_alerts.journey_id), so the red row marker costs no statement of its own."""
    return (
        select(SafetyAlert.id)
        .where(SafetyAlert.journey_id == Journey.id, SafetyAlert.acknowledged_at.is_(None))
        .exists()
    )


def waiting_on_us() -> ColumnElement[bool]:
    """The contact's text is the journey's last and no one answered it. An automated text (a welcome,
    a keyword reply) never becomes the journey's last text once there is one (thread.touch_journey),
    so an automatic answer leaves the person waiting for a human."""
    return Journey.last_message_id.in_(select(Message.id).where(Message.direction == Direction.INBOUND))


def _view(
    user: User,
    *,
    pathway: str | None,
    state: str,
    mine: bool,
    waiting: bool,
    unassigned: bool,
    snoozed: bool = False,
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of an inbox view, for the list and its counts alike. Snoozed journeys are out
    of every view until their time, and alone in the `snoozed` one."""
    now = utcnow()
    where: list[ColumnElement[bool]] = [
        Journey.practice_id == user.practice_id,
        Journey.snoozed_until > now
        if snoozed
        else or_(Journey.snoozed_until.is_(None), Journey.snoozed_until <= now),
    ]
    if pathway:
        where.append(Journey.pathway == pathway)
    if state in ("open", "closed"):
        where.append(Journey.is_open.is_(state == "open"))
    if mine:
        where.append(Journey.assignee_id == user.id)
    if unassigned:
        where.append(Journey.assignee_id.is_(None))
    if waiting:
        where.append(waiting_on_us())
    return where


def inbox_counts(user: User, *, pathway: str | None = None, state: str = "open") -> dict[str, int]:
    """How many journeys each filter tab holds under the pathway and open/closed filter, in one query."""
    where = _view(user, pathway=pathway, state=state, mine=False, waiting=False, unassigned=False)
    row = db.session.execute(
        select(
            func.count(Journey.id),
            func.count(case((waiting_on_us(), 1))),
            func.count(case((Journey.assignee_id == user.id, 1))),
            func.count(case((Journey.assignee_id.is_(None), 1))),
        ).where(*where)
    ).one()
    return dict(zip(("all", "waiting", "mine", "unassigned"), (int(n) for n in row), strict=True))


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
