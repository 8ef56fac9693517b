"""GET /healthz for the proxy and for monitoring: the database, Redis (when used) and the workers.

No login, because a load balancer has none, so the answer says only whether each part works and how
old the newest worker heartbeat is: never a host name, URL, error text, worker name or record count.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select, text

from inbox.extensions import db
from inbox.models import WorkerHeartbeat, utcnow

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
REDIS_TIMEOUT = 2.0  # seconds; a proxy's health probe must not hang on a dead Redis


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when every part answers, 503 otherwise; JSON either way."""
    checks: dict[str, dict[str, Any]] = {"database": check_database()}
    if current_app.config["SOCKETIO_MESSAGE_QUEUE"]:
        checks["redis"] = check_redis(current_app.config["SOCKETIO_MESSAGE_QUEUE"])
    checks["worker"] = check_workers() if checks["database"]["ok"] else {"ok": False}
    healthy = all(check["ok"] for check in checks.values())
    return jsonify(status="ok" if healthy else "fail", checks=checks), 200 if healthy else 503


def check_database() -> dict[str, Any]:
    """Can we run a query?"""
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:
        # The exception text may carry the database URL; its class name is enough for the log.
        log.warning("healthz: database check failed (%s)", type(exc).__name__)
        db.session.rollback()
        return {"ok": False}


def check_redis(url: str) -> dict[str, Any]:
    """Does the Socket.IO message queue answer a PING?"""
    if not url.startswith(("redis://", "rediss://")):
        return {"ok": True, "checked": False}  # another queue kind: nothing we know how to ping
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    try:
        return {"ok": bool(client.ping())}
    except Exception as exc:
        log.warning("healthz: redis check failed (%s)", type(exc).__name__)
        return {"ok": False}
    finally:
        client.close()


def check_workers() -> dict[str, Any]:
    """Has some worker finished a loop lately? (Each one stamps worker_heartbeats every pass.)"""
    stale_after = current_app.config["INBOX_WORKER_STALE_SECONDS"]
    now = utcnow()
    try:
        newest = db.session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
        fresh = db.session.scalar(
            select(func.count())
            .select_from(WorkerHeartbeat)
            .where(WorkerHeartbeat.seen_at >= now - timedelta(seconds=stale_after))
        )
    except Exception as exc:
        log.warning("healthz: heartbeat check failed (%s)", type(exc).__name__)
        db.session.rollback()
        return {"ok": False}
    age = None if newest is None else max(0.0, round((now - newest).total_seconds(), 1))
    return {"ok": age is not None and age <= stale_after, "fresh": fresh, "last_seen_seconds": age}
