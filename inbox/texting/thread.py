"""Writing to a thread: the one message constructor, status changes, the inbox order, activity lines, and
the push that tells the thread. The lowest room of texting: consent, outbox, inbound, journeys,
redaction and retention all write through it, and it imports none of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, insert, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from inbox.extensions import db
from inbox.gateway.errors import error_reason
from inbox.models import Attachment, Journey, Message, User, utcnow
from inbox.presenters import journey_json, message_json
from inbox.realtime import journey_room, practice_room, push
from inbox.texting import search
from inbox.vocabulary import AUTOMATIC_KINDS, Direction, Kind, Status


def new_message(
    journey: Journey, *, direction: str, kind: str, status: str, body: str | None, **fields: Any
) -> Message:
    """A message of the journey's thread, added to the session (attachments default to none, so the
    presenters need not query for them)."""
    fields.setdefault("attachments", [])
    msg = _message(journey, direction=direction, kind=kind, status=status, body=body, **fields)
    db.session.add(msg)
    return msg


def _message(journey: Journey, **fields: Any) -> Message:
    """The one constructor: a message of the journey's thread."""
    return Message(
        practice_id=journey.practice_id, journey_id=journey.id, contact_id=journey.contact_id, **fields
    )


_MESSAGE_COLUMNS = tuple(column for column in Message.__table__.columns if column.key != "id")
_INSERT_MESSAGE = insert(cast(Table, Message.__table__))


def insert_message(
    journey: Journey,
    *,
    direction: str,
    kind: str,
    status: str,
    body: str | None,
    author: User | None = None,
    attachments: Sequence[Attachment] = (),
    **fields: Any,
) -> Message:
    """`new_message`, written at once by one Core INSERT instead of a flush of the unit of work (the
    hot paths: flushing one new message cost more Python than the rest of a webhook's statements). The
    row is then the session's like any loaded one, with every column set, so nothing reads it back; its
    attachments (if any) are flushed with their message's id, and its search terms are noted as a
    flushed message's are."""
    now = utcnow()
    fields.setdefault("created_at", now)
    fields.setdefault("updated_at", now)
    if author is not None:
        fields["author_id"] = author.id
    msg = _message(journey, direction=direction, kind=kind, status=status, body=body, **fields)
    row = {}
    for column in _MESSAGE_COLUMNS:
        value = getattr(msg, column.key)
        if value is None and column.default is not None:
            # The column's Python default (flags, attempts...), given to the object and the row alike.
            value = column.default.arg(None) if column.default.is_callable else column.default.arg
        setattr(msg, column.key, value)
        row[column.key] = value
    written = cast(CursorResult, db.session.execute(_INSERT_MESSAGE, row))
    (msg.id,) = cast(tuple[int], written.inserted_primary_key)
    make_transient_to_detached(msg)  # as if loaded: persistent once added, with no INSERT of its own
    # A rolled-back transaction leaves such a row's object behind, expired (a flushed one it would have
    # expunged); when its id comes round again, the new row replaces it, as a flush would.
    stale = db.session.identity_map.get(db.session.identity_key(Message, msg.id))
    if stale is not None:
        db.session.expunge(stale)
    db.session.add(msg)
    for name, value in (("journey", journey), ("contact", journey.contact), ("author", author)):
        set_committed_value(msg, name, value)
    set_committed_value(msg, "attachments", list(attachments))
    for attachment in attachments:
        attachment.message_id = msg.id
        db.session.add(attachment)
    if attachments:
        db.session.flush()
    search.note_new_message(db.session(), msg)
    return msg


def announce(msg: Message, event: str = "message.updated") -> None:
    """Tell the message's thread (after commit) that it is new or changed."""
    push(event, message_json(msg), journey_room(msg.journey_id))


def set_status(msg: Message, status: str, *, reason: str | None = None, code: int | None = None) -> None:
    """Change an outbound message's status and announce it to the thread."""
    msg.status = status
    msg.error_code = code if code is not None else msg.error_code
    msg.error_reason = reason if reason is not None else (error_reason(code) if code else msg.error_reason)
    msg.updated_at = utcnow()
    if status not in ("sending",):
        msg.lease_owner = msg.lease_until = None
    db.session.flush()
    announce(msg)


def set_statuses(msgs: Sequence[Message], status: str, *, reason: str | None = None) -> None:
    """`set_status` for many loaded messages in one UPDATE, so that a YES releasing 1,000 held texts (or a
    STOP cancelling them) costs the same statements as one; each thread still hears message.updated."""
    if not msgs:
        return
    values: dict = {"status": status, "updated_at": utcnow()}
    if reason is not None:
        values["error_reason"] = reason
    if status != Status.SENDING:
        values.update(lease_owner=None, lease_until=None)
    db.session.execute(
        update(Message).where(Message.id.in_([m.id for m in msgs])).values(**values),
        execution_options={"synchronize_session": False},
    )
    for msg in msgs:
        # The rows now hold these values: tell the loaded objects without another flush or query.
        for key, value in values.items():
            set_committed_value(msg, key, value)
        announce(msg)


_TOUCH = update(cast(Table, Journey.__table__)).where(Journey.id == bindparam("journey"))


def touch_journey(journey: Journey, msg: Message, notify: dict[str, Any] | None = None) -> None:
    """Move a journey to the top of the inbox and tell every staff tab; `notify` (a new inbound text's
    popup fields) rides in the same event, so a text costs the practice room one push, not two. An
    internal note is no activity with the contact: it moves nothing (the journey's last text stays the
    one waiting on us)."""
    if msg.direction == Direction.NOTE:
        return
    values = {"last_activity_at": msg.created_at or utcnow(), "last_message_id": msg.id}
    if msg.kind in AUTOMATIC_KINDS and journey.last_message_id:
        del values["last_message_id"]
    # A plain UPDATE, not a dirty attribute: the ORM's second flush per text cost more than the
    # statement. Prebuilt: the SET list comes from the parameters' names.
    db.session.execute(_TOUCH, {"journey": journey.id, **values})
    for key, value in values.items():
        set_committed_value(journey, key, value)
    shown = msg if values.get("last_message_id") == msg.id else None
    payload = journey_json(journey, shown)
    if notify is not None:
        payload["notify"] = notify
    push("journey.updated", payload, practice_room(journey.practice_id))


def log_activity(journey: Journey, text: str, actor: User | None = None) -> Message:
    """An activity line in the thread ("Dana Reyes moved this journey to Waitlist"), stored like a message."""
    line = insert_message(
        journey,
        direction=Direction.ACTIVITY,
        kind=Kind.ACTIVITY,
        status=Status.LOGGED,
        body=text,
        author=actor,
    )
    announce(line, "message.new")
    return line
