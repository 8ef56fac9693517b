"""Socket.IO: authenticate on connect, join rooms after checks, and push events after commit.

Rooms: ``practice:<id>`` (inbox list, popups, consent), ``journey:<id>`` (a thread's messages; joined
only through ``join_journey`` after the server checked the journey is the user's practice's),
``session:<token>`` (so logout can reach every tab of that login).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room, leave_room
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from inbox.common import audit
from inbox.common.inputs import parse_id
from inbox.extensions import db, socketio
from inbox.models import Journey, StaffSession


def practice_room(practice_id: int) -> str:
    """Room of every staff socket of a practice."""
    return f"practice:{practice_id}"


def journey_room(journey_id: int) -> str:
    """Room of the sockets looking at one journey."""
    return f"journey:{journey_id}"


def user_room(user_id: int) -> str:
    """Room of every socket of one staff member (all their tabs and devices)."""
    return f"user:{user_id}"


def after_commit(action: Callable[[], None]) -> None:
    """Run `action` once the current transaction commits; a rollback drops it."""
    db.session.info.setdefault("after_commit", []).append(action)


def push(event_name: str, payload: dict[str, Any], room: str) -> None:
    """Queue an event to go out once the current transaction commits (dropped on rollback)."""
    after_commit(lambda: socketio.emit(event_name, payload, to=room))


def _run_after_commit(sess: Session) -> None:
    """Emit what the committed transaction announced."""
    for action in sess.info.pop("after_commit", []):
        action()


def _drop_pending(sess: Session) -> None:
    """A rolled-back transaction announces nothing."""
    sess.info.pop("after_commit", None)


def disconnect_session(token: str) -> None:
    """After commit: tell every tab of an ended login, and drop its sockets held by this process.

    Sockets of the same login on other server processes are dropped by their own process's
    sweep (`sweep_ended_sessions`), which a message queue cannot do for them.
    """
    after_commit(lambda: _disconnect_now(token))


def _disconnect_now(token: str) -> None:
    """Emit session.ended to the login's room and disconnect its local sockets."""
    room = f"session:{token}"
    socketio.emit("session.ended", {}, to=room)
    server = socketio.server
    if server is None:
        return
    for sid, _eio_sid in list(server.manager.get_participants("/", room)):
        server.disconnect(sid, namespace="/")


# This process's sockets and the login each belongs to, for the sweep below.
_local_sockets: dict[str, str] = {}
SWEEP_SECONDS = 20


def sweep_ended_sessions(app: Flask) -> None:
    """Forever: disconnect this process's sockets whose login ended (logout, idle, deactivation)."""
    while True:
        socketio.sleep(SWEEP_SECONDS)
        tokens = set(_local_sockets.values())
        if not tokens:
            continue
        with app.app_context():
            live = set(
                db.session.scalars(
                    select(StaffSession.token).where(
                        StaffSession.token.in_(tokens), StaffSession.ended_at.is_(None)
                    )
                )
            )
            db.session.remove()
        for token in tokens - live:
            _disconnect_now(token)


def _live_session() -> bool:
    """Re-check on every event that the login behind this socket is still live."""
    return (
        current_user.is_authenticated
        and bool(session.get("sid"))
        and not current_user.must_change_password  # a temporary password opens nothing but its change
    )


def _origin_allowed() -> bool:
    """Browsers send Origin; it must be our own public URL (or this host when run locally)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # non-browser clients carry the session cookie, which is what we check
    allowed = {current_app.config["INBOX_PUBLIC_URL"], request.host_url.rstrip("/")}
    return origin.rstrip("/") in allowed


def _socket_id() -> str:
    """This socket's id: Flask-SocketIO sets request.sid, which Flask's Request type does not declare."""
    return request.sid  # type: ignore[attr-defined]  # Flask-SocketIO's attribute, untyped


def on_connect(auth: Any = None) -> None:
    """Refuse sockets without a logged-in session or from another origin; join the user's rooms."""
    if not _origin_allowed():
        raise ConnectionRefusedError("origin not allowed")
    if not _live_session():
        raise ConnectionRefusedError("login required")
    join_room(practice_room(current_user.practice_id))
    join_room(user_room(current_user.id))
    join_room(f"session:{session['sid']}")
    _local_sockets[_socket_id()] = session["sid"]


def on_disconnect(reason: Any = None) -> None:
    """Forget a closed socket, and tell the threads it had open that its user left."""
    _local_sockets.pop(_socket_id(), None)
    for journey_id in [j for j, sockets in _viewers.items() if _socket_id() in sockets]:
        _stop_viewing(journey_id)


# --- who else has a thread open ------------------------------------------------------------------
# journey id -> {socket id: (user id, name)} of this process's sockets in that journey's room. With a
# message queue each process knows its own sockets only (docs/API.md: journey.viewers).
_viewers: dict[int, dict[str, tuple[int, str]]] = {}


def _announce_viewers(journey_id: int) -> None:
    """Tell the journey's room who has it open now (each person once, however many tabs)."""
    people = dict(_viewers.get(journey_id, {}).values())
    viewers = [{"id": uid, "name": name} for uid, name in sorted(people.items())]
    socketio.emit(
        "journey.viewers", {"journey_id": journey_id, "viewers": viewers}, to=journey_room(journey_id)
    )


def _stop_viewing(journey_id: int) -> None:
    """This socket no longer looks at the journey."""
    sockets = _viewers.get(journey_id, {})
    if sockets.pop(_socket_id(), None) is None:
        return
    if not sockets:
        _viewers.pop(journey_id, None)
    _announce_viewers(journey_id)


def _journey_id(data: Any) -> int | None:
    """The journey id of an event's payload, or None for anything that is not `{"journey_id": <id>}`."""
    return parse_id(data.get("journey_id")) if isinstance(data, dict) else None


def on_join_journey(data: Any = None) -> dict[str, Any]:
    """Join a thread's room after checking the journey belongs to the user's practice."""
    if not _live_session():
        return {"ok": False, "error": "login required"}
    journey_id = _journey_id(data)
    if journey_id is None:
        return {"ok": False, "error": "journey_id required"}
    journey = db.session.get(Journey, journey_id)
    if journey is None or journey.practice_id != current_user.practice_id:
        return {"ok": False, "error": "not found"}
    join_room(journey_room(journey_id))
    audit.record("journey.join", journey)  # from now on this socket hears the thread's texts
    db.session.commit()
    _viewers.setdefault(journey_id, {})[_socket_id()] = (current_user.id, current_user.display_name)
    _announce_viewers(journey_id)
    return {"ok": True}


def on_leave_journey(data: Any = None) -> None:
    """Stop hearing a thread."""
    journey_id = _journey_id(data)
    if journey_id is not None:
        leave_room(journey_room(journey_id))
        _stop_viewing(journey_id)


def init_app(app: Flask) -> None:
    """Register the handlers and the after-commit emitter."""
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("join_journey", on_join_journey)
    socketio.on_event("leave_journey", on_leave_journey)
    if not event.contains(Session, "after_commit", _run_after_commit):
        event.listen(Session, "after_commit", _run_after_commit)
        event.listen(Session, "after_rollback", _drop_pending)
