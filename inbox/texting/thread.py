"""Writing to a thread: the one message constructor, status changes, the inbox order, activity lines, and
the push that tells the thread. The lowest room of texting: consent, outbox, inbound, journeys,
redaction and retention all write through it, and it imports none of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm.attributes import set_committed_value

from inbox.extensions import db
from inbox.gateway.errors import error_reason
from inbox.models import Journey, Message, User, utcnow
from inbox.presenters import journey_json, message_json
from inbox.realtime import journey_room, practice_room, push
from inbox.vocabulary import AUTOMATIC_KINDS, Direction, Kind, Status


def new_message(
    journey: Journey, *, direction: str, kind: str, status: str, body: str | None, **fields: Any
) -> Message:
    """A message of the journey's thread, added to the session (attachments default to none, so the
    presenters need not query for them)."""
    fields.setdefault("attachments", [])
    msg = Message(
        practice_id=journey.practice_id,
        journey_id=journey.id,
        contact_id=journey.contact_id,
        direction=direction,
        kind=kind,
        status=status,
        body=body,
        **fields,
    )
    db.session.add(msg)
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
    line = new_message(
        journey,
        direction=Direction.ACTIVITY,
        kind=Kind.ACTIVITY,
        status=Status.LOGGED,
        body=text,
        author_id=actor.id if actor else None,
    )
    db.session.flush()
    announce(line, "message.new")
    return line
