"""The background worker: safety escalations, outbox, media jobs and lease recovery, in a loop, with
periodic sweeps.

Runs as `flask --app inbox worker` (any number of them), or inside the embedded server as a
Socket.IO background task. It sleeps with `socketio.sleep`, so it cooperates with whichever async
library wsgi.py picked.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from flask import Flask, current_app

from inbox.common import throttle
from inbox.extensions import db, socketio
from inbox.gateway import Gateway, gateway_for
from inbox.media import attachments
from inbox.models import WorkerHeartbeat, utcnow
from inbox.notify import webpush
from inbox.records import retention
from inbox.texting import automations, escalation, inbound, journeys, outbox
from inbox.web.auth import end_idle_sessions

log = logging.getLogger(__name__)
IDLE_SLEEP = 0.5
SWEEP_EVERY = 15.0  # seconds between idle-logoff and time-based automation sweeps
_clock = time.monotonic
_next_run: dict[str, float] = {}  # periodic job -> when it is due next (this process's clock)


def worker_name() -> str:
    """A name unique to this process, used as the lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _due(job: str, every: float) -> bool:
    """True at most once per `every` seconds for a periodic job (and on the first pass)."""
    now = _clock()
    if now < _next_run.get(job, 0.0):
        return False
    _next_run[job] = now + every
    return True


def run_once(gateway: Gateway, name: str) -> int:
    """One pass over every queue; returns how much work it did."""
    if _due("sweep", SWEEP_EVERY):
        end_idle_sessions()
        automations.tick()
        throttle.purge()
        journeys.wake_due()  # snoozes that ended: back in the inbox, and every tab hears it
        webpush.purge()
    if _due("retention", current_app.config["INBOX_RETENTION_EVERY_SECONDS"]) and retention.sweep(gateway):
        # More is past the retention window than one bounded batch: go on next pass, not next hour.
        _next_run["retention"] = 0.0
    outbox.reap_expired_leases()
    done = escalation.run_due(gateway)  # first: an unacknowledged safety alert texts the on-call rota
    done += _follow_ups()  # before the drain: a new inquiry's opt-in request goes this pass
    done += outbox.drain(gateway, name)
    done += attachments.process_due(gateway)
    done += webpush.drain(name)  # safety alerts and mentions to staff browsers (Web Push)
    heartbeat = db.session.get(WorkerHeartbeat, name) or WorkerHeartbeat(name=name)
    heartbeat.seen_at = utcnow()
    db.session.add(heartbeat)
    db.session.commit()
    return done


def _follow_ups() -> int:
    """The follow-ups inbound texts left (inbound.follow_up_due), one transaction at a time, letting the
    server's other work in between: SQLite does not yield to the async hub, so in the embedded server a
    pass of 20 welcomes at ~15 ms each held every socket and webhook for ~300 ms."""
    done = 0
    while done < inbound.FOLLOW_UP_BATCH and inbound.follow_up_due(limit=1):
        done += 1
        socketio.sleep(0)
    return done


def run_forever(app: Flask, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Loop until told to stop; errors are logged (without ePHI) and the loop goes on."""
    name = worker_name()
    with app.app_context():
        gateway = gateway_for(app)
        log.info("worker %s started", name)
        while not should_stop():
            try:
                done = run_once(gateway, name)
            except Exception:
                log.exception("worker pass failed")
                db.session.rollback()
                done = 0
            finally:
                db.session.remove()
            socketio.sleep(0 if done else IDLE_SLEEP)


def start_in_process(app: Flask) -> None:
    """The embedded default: the worker runs beside the server as a background task."""
    socketio.start_background_task(run_forever, app)
