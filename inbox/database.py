"""What no request may do to the database: hold a connection with one statement for long, or leave
Twilio's webhooks without a connection.

Issue 23: sixteen searches that took minutes held every connection of the pool; a colleague's inbox
answered 500 and a text that a patient sent in that window was never stored.

- Every statement a staff request runs (a page, the API, a Socket.IO event) stops after
  INBOX_STATEMENT_TIMEOUT seconds: PostgreSQL's statement_timeout, set on the connection when a request
  checks it out; on SQLite a progress handler that interrupts a statement past its deadline. The request
  answers 503 and its transaction is rolled back, so the connection goes back to the pool at once. The
  worker and the CLI run without a limit: their work comes in bounded batches, and a migration may
  rightly build an index for minutes. Nor do webhooks: their statements are few and fixed in shape, so
  the only long wait they meet is for a row lock, and Twilio does not repeat a webhook answered 503:
  cut off, the text would be lost, where waiting stores it (late, but stored).
- Webhooks take their connections from a pool of their own (the bind WEBHOOKS, the same database). A
  reserved share of one pool would have to be kept in step with everything else that checks out of it
  (pages, Socket.IO handlers, the in-process worker); a pool nothing else can reach holds by
  construction. It costs nothing while webhooks are quiet: a pool opens connections as they are needed,
  so the two pools together open as many as the load they serve.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

import flask_sqlalchemy.session
from flask import Flask, current_app, has_request_context, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from werkzeug.exceptions import ServiceUnavailable

log = logging.getLogger(__name__)

WEBHOOKS = "webhooks"  # the webhooks' pool (a bind key) and the blueprint that uses it (inbox/web/webhooks)
PROGRESS_EVERY = 10_000  # SQLite VM instructions between two looks at the clock (microseconds of work)
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement cut off by statement_timeout


class Session(flask_sqlalchemy.session.Session):
    """db.session: a webhook's statements run on the webhooks' pool, everything else on the main one."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any) -> Any:
        """The webhooks' engine inside a webhook request; otherwise as Flask-SQLAlchemy chooses."""
        if bind is None and has_request_context() and request.blueprint == WEBHOOKS:
            return self._db.engines[WEBHOOKS]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def configure(app: Flask) -> None:
    """Before db.init_app: the webhooks' pool, on the same database with the same engine options."""
    binds = app.config.setdefault("SQLALCHEMY_BINDS", {})
    binds.setdefault(
        WEBHOOKS, {"url": app.config["SQLALCHEMY_DATABASE_URI"], **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    )


def init_app(app: Flask, engines: Mapping[str | None, Engine]) -> None:
    """After db.init_app: a statement limit on every engine but the webhooks', and a 503 for a
    statement cut off."""
    seconds = float(app.config["INBOX_STATEMENT_TIMEOUT"])
    if seconds > 0:
        for key, engine in engines.items():
            if key == WEBHOOKS:
                continue
            if engine.dialect.name == "postgresql":
                event.listen(engine, "checkout", _postgresql_limit(seconds))
            elif engine.dialect.name == "sqlite":
                _sqlite_limit(engine, seconds)
    app.register_error_handler(OperationalError, _cut_off)


def _postgresql_limit(seconds: float) -> Any:
    """A checkout hook setting statement_timeout for a request, none otherwise (only when it changes)."""
    milliseconds = max(1, round(seconds * 1000))

    def limit(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
        wanted = milliseconds if has_request_context() else 0
        if record.info.get("statement_timeout") != wanted:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET statement_timeout = {wanted}")
            cursor.close()
            # SET is transactional: committed now, or the request's rollback would undo it.
            dbapi_connection.commit()
            record.info["statement_timeout"] = wanted

    return limit


def _sqlite_limit(engine: Engine, seconds: float) -> None:
    """A deadline per statement (and the fetching of its rows), checked by SQLite's progress handler;
    none for COMMIT and ROLLBACK, so a slow request's work is never half-committed."""

    @event.listens_for(engine, "connect")
    def _handler(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        deadline = record.info["deadline"] = [0.0]  # 0: none
        dbapi_connection.set_progress_handler(
            lambda: deadline[0] > 0 and time.monotonic() > deadline[0], PROGRESS_EVERY
        )

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, *_args: Any) -> None:
        if "deadline" in conn.info:
            conn.info["deadline"][0] = time.monotonic() + seconds if has_request_context() else 0.0

    def _stop(conn: Any, *_args: Any) -> None:
        if "deadline" in conn.info:
            conn.info["deadline"][0] = 0.0

    event.listen(engine, "commit", _stop)
    event.listen(engine, "rollback", _stop)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if "deadline" in record.info:  # the pool's own rollback on return runs without one too
            record.info["deadline"][0] = 0.0


def cut_off(exc: BaseException) -> bool:
    """Whether a database error is a statement stopped by its limit (or cancelled by an operator)."""
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == QUERY_CANCELED:
        return True
    return isinstance(original, sqlite3.OperationalError) and str(original) == "interrupted"


def _cut_off(exc: OperationalError) -> ResponseReturnValue:
    """A statement past its limit answers 503 (JSON under /api/); any other database error stays a 500."""
    if not cut_off(exc):
        raise exc
    from inbox.extensions import db  # the spine's session; imported late, extensions imports this module

    db.session.rollback()
    log.warning("statement cut off after its limit endpoint=%s", request.endpoint)
    answer = ServiceUnavailable("the database took too long to answer this request; try again")
    answer.retry_after = 5
    return current_app.handle_http_exception(answer)
