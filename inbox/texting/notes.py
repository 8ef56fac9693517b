"""Internal notes: staff words in a thread, sealed like a text's body, never sent, never an answer to the
contact; and the @mentions in them, each heard by the mentioned person's own sockets only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from inbox.common import audit
from inbox.common.inputs import clean, parse_id
from inbox.extensions import db
from inbox.models import Journey, Mention, Message, User, utcnow
from inbox.notify import webpush
from inbox.realtime import push, user_room
from inbox.texting.thread import announce, new_message
from inbox.vocabulary import Direction, Kind, Status

MAX_NOTE = 4000
MAX_MENTIONS = 20


class NoteError(ValueError):
    """A note that cannot be kept as written (answered 400)."""


class UnknownMention(ValueError):
    """A mention of someone who is not active staff of the journey's practice (answered 422)."""


def note_body(value: Any) -> str:
    """The note's words, or NoteError for an empty, non-text or overlong one."""
    if not isinstance(value, str) or not clean(value).strip():
        raise NoteError("write a note first")
    body = clean(value).strip()
    if len(body) > MAX_NOTE:
        raise NoteError(f"a note can be at most {MAX_NOTE} characters")
    return body


def mentioned_staff(journey: Journey, value: Any) -> list[User]:
    """The staff a note mentions (ids in the order given, each once), all of the journey's practice."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_MENTIONS:
        raise NoteError(f"mentions must be a list of at most {MAX_MENTIONS} staff ids")
    ids = [parse_id(v) if isinstance(v, int) and not isinstance(v, bool) else None for v in value]
    if any(i is None for i in ids):
        raise NoteError("mentions must be staff ids")
    wanted = list(dict.fromkeys(i for i in ids if i is not None))
    found = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(
                User.id.in_(wanted), User.practice_id == journey.practice_id, User.active.is_(True)
            )
        )
    }
    if len(found) != len(wanted):
        raise UnknownMention("only active staff of this practice can be mentioned")
    return [found[i] for i in wanted]


def add_note(journey: Journey, author: User, body: str, mentions: Sequence[User]) -> Message:
    """Keep a note in the thread and tell each mentioned person. It is a `logged` line of its own
    direction: the outbox takes only queued texts, and it never touches the journey's `last_message_id`
    (what the inbox shows and "waiting on us" reads), so the contact's last text stays unanswered."""
    note = new_message(
        journey,
        direction=Direction.NOTE,
        kind=Kind.NOTE,
        status=Status.LOGGED,
        body=body,
        author_id=author.id,
        flags={"mentions": [u.id for u in mentions]} if mentions else {},
    )
    note.author = author
    db.session.flush()
    announce(note, "message.new")
    by = {"id": author.id, "name": author.display_name}
    for user in mentions:
        db.session.add(
            Mention(
                practice_id=journey.practice_id,
                message_id=note.id,
                user_id=user.id,
                by_id=author.id,
            )
        )
        push("mention", {"journey_id": journey.id, "message_id": note.id, "by": by}, user_room(user.id))
        webpush.notify_mention(note, user)
    audit.record(
        "note.create", note, user_id=author.id, journey_id=journey.id, mentions=[u.id for u in mentions]
    )
    return note


def mentions_of(user: User, limit: int = 100) -> list[Mention]:
    """The user's mentions, newest first (with their notes, journeys and authors loaded)."""
    return list(
        db.session.scalars(
            select(Mention)
            .where(Mention.user_id == user.id, Mention.practice_id == user.practice_id)
            .order_by(Mention.id.desc())
            .limit(limit)
        )
    )


def unread_mentions(user: User) -> int:
    """How many mentions the user has not opened yet (the top bar's count)."""
    return (
        db.session.scalar(
            select(func.count(Mention.id)).where(
                Mention.user_id == user.id, Mention.practice_id == user.practice_id, Mention.read_at.is_(None)
            )
        )
        or 0
    )


def read_mentions(user: User, journey_id: int | None = None) -> int:
    """Mark the user's mentions read (those of one journey, or all); their other tabs hear the new count."""
    query = update(Mention).where(Mention.user_id == user.id, Mention.read_at.is_(None))
    if journey_id is not None:
        query = query.where(
            Mention.message_id.in_(select(Message.id).where(Message.journey_id == journey_id))
        )
    marked = db.session.execute(
        query.values(read_at=utcnow()), execution_options={"synchronize_session": False}
    )
    count = marked.rowcount or 0  # type: ignore[attr-defined]  # a CursorResult: UPDATE counts its rows
    if count:
        push("mention.read", {"unread": unread_mentions(user)}, user_room(user.id))
    return count
