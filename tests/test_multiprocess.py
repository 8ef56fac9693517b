"""The production layout for real: two `python wsgi.py` servers and two `flask --app inbox worker`
processes on one fresh PostgreSQL database, fanning out through Redis, all pointed at a fake Twilio.

Runs once per async library (eventlet, gevent) for the servers; the workers are plain processes either
way. Skips only when PostgreSQL or Redis does not answer (CI starts both). Assertions about one test's
data go through its own practice (and number), so the tests share the database and the fake safely.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import redis
import requests
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select, update

from inbox import create_app
from inbox.extensions import db
from inbox.models import Contact, Journey, Message, PracticeNumber, Template, WorkerHeartbeat
from inbox.texting import consent
from tests import ephi_watch, factories
from tests.conftest import TEST_INDEX_KEY, TEST_KEY
from tests.fake_twilio import FakeTwilio

if TYPE_CHECKING:
    from tests.live_server import LiveServer

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parent.parent

PG_ADMIN_URL = (
    os.environ.get("INBOX_TEST_DATABASE") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("INBOX_TEST_REDIS") or "redis://127.0.0.1:6379/0"
SETTLE = 20.0  # seconds a test waits for the processes to finish what it started
_numbers = itertools.count(random.randrange(1000, 5000))


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers."""
    try:
        psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL does not answer at {PG_ADMIN_URL.split('@')[-1]} ({type(exc).__name__})"
    return None


def redis_problem() -> str | None:
    """Why Redis cannot be used here, or None when it answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis does not answer at {REDIS_URL} ({type(exc).__name__})"
    finally:
        client.close()
    return None


class SlowFakeTwilio(FakeTwilio):
    """The fake, taking `send_delay` seconds to accept each message as the real API does."""

    send_delay = 0.0

    def _create(self, request):
        """Wait, then accept (or refuse) the message like the plain fake."""
        time.sleep(self.send_delay)
        return super()._create(request)

    def sent_from(self, number: str) -> list[dict]:
        """Every message the fake accepted from one practice number, in arrival order."""
        return [sent for sent in list(self.sent) if sent["from_"] == number]


# -- the cluster ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    problem = postgres_problem() or redis_problem()
    if problem:
        pytest.skip(f"multi-process tests need PostgreSQL and Redis: {problem}")
    name = f"inbox_mp_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def twilio_fake() -> Iterator[SlowFakeTwilio]:
    """One fake Twilio for every process of the module."""
    with SlowFakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def cluster_env(database, twilio_fake, tmp_path_factory) -> dict[str, str]:
    """The environment every process of the deployment shares (as systemd's EnvironmentFile would)."""
    base = tmp_path_factory.mktemp("cluster")
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INBOX_", "SOCKETIO_", "TWILIO_", "PSYCOPG_"))
    }
    return {
        **inherited,
        "DATABASE_URL": database,
        "SECRET_KEY": secrets.token_hex(32),
        "INBOX_DATA_KEYS": TEST_KEY,
        "INBOX_INDEX_KEY": TEST_INDEX_KEY,
        "INBOX_MEDIA_DIR": str(base / "media"),
        "INBOX_INSTANCE_DIR": str(base / "instance"),
        "TWILIO_ACCOUNT_SID": twilio_fake.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_fake.auth_token,
        "TWILIO_API_BASE_URL": twilio_fake.url,
        "INBOX_MEDIA_HOSTS": twilio_fake.url,
        "INBOX_PUBLIC_URL": "http://127.0.0.1:9",  # each server gets its own; workers only build URLs
        "INBOX_SEND_INTERVAL": "0",
        "INBOX_RUN_WORKER": "0",
        "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
        # A channel of its own, so nothing else on this Redis hears our events (or we theirs).
        "SOCKETIO_CHANNEL": f"inbox-test-{uuid.uuid4().hex[:8]}",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="module")
def admin_app(cluster_env) -> Iterator[Flask]:
    """This test process's own view of the database: migrates it, then seeds and inspects it.

    It has no message queue: its pushes must not reach the servers' sockets, which should hear only
    what the servers and workers send."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in cluster_env.items():
            mp.setenv(key, value)
        mp.delenv("SOCKETIO_MESSAGE_QUEUE")
        app = create_app({"TESTING": True})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def servers(request, cluster_env, twilio_fake, admin_app, tmp_path_factory) -> Iterator[list[LiveServer]]:
    """Servers A and B: `python wsgi.py` under INBOX_ASYNC=<param>, sharing the database and Redis."""
    # Imported here, not at the top: pytest loads tests.live_server as a plugin (rewriting its asserts).
    from tests.live_server import LiveServer, _wait_until_up, free_port

    logs = tmp_path_factory.mktemp(f"servers-{request.param}")
    started = []
    for name in ("a", "b"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**cluster_env, "INBOX_ASYNC": request.param, "PORT": str(port), "INBOX_PUBLIC_URL": url}
        log = logs / f"server_{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "wsgi.py"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        started.append(LiveServer(url, twilio_fake, process, log))
    try:
        for server in started:
            _wait_until_up(server)
        yield started
    finally:
        for server in started:
            if server.process.poll() is not None:
                print(f"--- server {server.url} ({request.param}) exited early ---\n{server.output()}")
            # Stop the server before its sockets: a client-side close waits up to 3 s for the server's
            # close frame, which gevent's server (simple-websocket fallback) does not send.
            server.process.terminate()
            server.process.wait(timeout=5)
            for client in server.sockets:
                client.disconnected.wait(2)
            server.stop()


class Workers:
    """`flask --app inbox worker` processes started by one test, stopped after it."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        """Nothing runs until start()."""
        self.env = env
        self.logs = logs
        self.processes: list[subprocess.Popen] = []

    def start(self, count: int = 2) -> list[subprocess.Popen]:
        """Start `count` workers."""
        new = []
        for _ in range(count):
            log = self.logs / f"worker_{len(self.processes)}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "inbox", "worker"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            process.log = log
            self.processes.append(process)
            new.append(process)
        return new

    @staticmethod
    def name(process: subprocess.Popen) -> str:
        """The lease owner and heartbeat name the worker uses (inbox.worker.worker_name)."""
        return f"{socket.gethostname()}:{process.pid}"

    @staticmethod
    def sends(process: subprocess.Popen) -> int:
        """How many texts this worker logged as handed to Twilio."""
        return len(re.findall(r"sent message id=", process.log.read_text(errors="replace")))

    def wait_ready(self, processes: list[subprocess.Popen]) -> None:
        """Wait until every one of them has stamped a heartbeat (it is past start-up, looping)."""
        names = {self.name(p) for p in processes}
        wait_until(
            lambda: names <= set(db.session.scalars(select(WorkerHeartbeat.name))),
            lambda: "workers never stamped a heartbeat:\n" + "\n".join(self.output(p) for p in processes),
        )

    @staticmethod
    def output(process: subprocess.Popen) -> str:
        """What a worker printed."""
        return process.log.read_text(errors="replace")

    def tails(self, lines: int = 15) -> str:
        """The last lines each worker printed, for a failure message."""
        return "\n".join(
            f"--- worker pid {p.pid} ---\n" + "\n".join(self.output(p).splitlines()[-lines:])
            for p in self.processes
        )

    def stop(self) -> None:
        """SIGTERM each worker still running; SIGKILL one that lingers."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            ephi_watch.add_output(f"worker {process.pid}", self.output(process))


@pytest.fixture
def workers(cluster_env, tmp_path) -> Iterator[Workers]:
    """Start workers with workers.start(); they are stopped after the test."""
    pool = Workers(cluster_env, tmp_path)
    yield pool
    pool.stop()


@pytest.fixture
def admin(admin_app) -> Iterator[None]:
    """The admin app's context for this test; each query sees what the other processes committed."""
    with admin_app.app_context():
        yield
        db.session.remove()


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = SETTLE) -> None:
    """Poll `condition` in fresh transactions until it holds; fail with `failure` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # a new transaction: see the other processes' commits
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(failure() if callable(failure) else failure)
        time.sleep(0.05)


def new_practice(**settings):
    """A practice of its own (a number no other test uses) with one staff member."""
    practice = factories.practice(number=f"+1500555{next(_numbers):04d}", **settings)
    return practice, factories.user(practice)


def opted_in_journeys(practice, count: int) -> list[Journey]:
    """`count` contacts who accepted texts by replying YES, each with an open journey."""
    journeys = []
    for i in range(count):
        contact = factories.contact(practice, phone=f"+1415555{i:04d}", first_name=f"C{i}")
        consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
        journeys.append(factories.journey(contact))
    db.session.commit()
    return journeys


def set_gate(practice, open_: bool) -> None:
    """Open or close the number's pacing gate: closed, no worker may send from it."""
    db.session.execute(
        update(PracticeNumber)
        .where(PracticeNumber.practice_id == practice.id)
        .values(next_send_at=None if open_ else datetime.now(UTC) + timedelta(hours=1))
    )
    db.session.commit()


def queue_texts(servers: list[LiveServer], staff, journeys: list[Journey], rounds: int) -> list[str]:
    """Staff replies through the JSON API, alternating between the servers; returns the bodies."""
    browsers = [server.login(staff.email) for server in servers]
    bodies = []
    for round_ in range(rounds):
        for i, journey in enumerate(journeys):
            body = f"Reply {round_}-{i} {uuid.uuid4().hex[:6]}"
            which = (round_ + i) % len(servers)
            answer = browsers[which].post(
                f"{servers[which].url}/api/journeys/{journey.id}/messages", json={"body": body}, timeout=10
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["message"]["status"] == "queued"
            bodies.append(body)
    return bodies


def outbound(practice) -> list[Message]:
    """The practice's outbound texts, oldest first."""
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.practice_id == practice.id, Message.direction == "outbound")
            .order_by(Message.id)
        )
    )


# -- the tests ------------------------------------------------------------------------------------


def test_webhook_into_one_server_reaches_a_socket_on_the_other(servers, admin):
    a, b = servers
    practice, staff = new_practice()
    journey = factories.journey(factories.contact(practice, phone="+14155550100"))
    on_a, on_b = a.socket(a.login(staff.email)), b.socket(b.login(staff.email))
    assert on_b.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}

    assert a.inbound("Hello via A", from_="+14155550100", to=practice.numbers[0].e164).status_code == 200
    heard = on_b.wait_for("message.new", lambda m: m["body"] == "Hello via A")
    assert heard["journey_id"] == journey.id
    assert on_b.wait_for_popup(lambda n: n["message_id"] == heard["id"])
    assert on_a.wait_for_popup(lambda n: n["message_id"] == heard["id"])  # and on A's own socket

    assert b.inbound("Hello via B", from_="+14155550100", to=practice.numbers[0].e164).status_code == 200
    assert on_a.wait_for_popup(lambda n: n["journey_id"] == journey.id and n["message_id"] != heard["id"])


def test_two_workers_drain_one_outbox_without_sending_twice(servers, admin, workers, twilio_fake):
    a, b = servers
    pool = workers.start(2)  # they start up while the texts are written
    practice, staff = new_practice()
    number = practice.numbers[0].e164
    journeys = opted_in_journeys(practice, 20)
    set_gate(practice, open_=False)
    bodies = queue_texts(servers, staff, journeys, rounds=2)  # 40 texts, two per contact
    watcher = b.socket(b.login(staff.email))
    assert watcher.ask("join_journey", {"journey_id": journeys[0].id}) == {"ok": True}
    twilio_fake.send_delay = 0.03
    workers.wait_ready(pool)

    set_gate(practice, open_=True)
    wait_until(
        lambda: all(m.twilio_sid for m in outbound(practice)),
        lambda: f"not drained: {Counter(m.status for m in outbound(practice))}\n{workers.tails()}",
    )
    twilio_fake.send_delay = 0.0

    sent = twilio_fake.sent_from(number)
    assert sorted(s["body"] for s in sent) == sorted(bodies)  # each exactly once, none lost
    by_sid = {s["sid"]: s["body"] for s in sent}
    assert {m.twilio_sid: m.body for m in outbound(practice)} == by_sid
    for journey in journeys:  # a contact's texts leave in the order staff wrote them
        to_contact = [s["body"] for s in sent if s["to"] == journey.contact.phone]
        assert to_contact == [m.body for m in outbound(practice) if m.journey_id == journey.id]
    # Counted from each worker's "sent message id=…" log line (inbox/outbox.py).
    assert all(workers.sends(p) > 0 for p in pool), f"both workers should have sent some\n{workers.tails()}"
    # A worker's status change reaches a socket on a server through Redis.
    first = outbound(practice)[0]
    assert watcher.wait_for("message.updated", lambda m: m["id"] == first.id and m["status"] == "sending")
    health = requests.get(f"{a.url}/healthz", timeout=5)
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["redis"]["ok"] and health.json()["checks"]["worker"]["fresh"] >= 2


def test_a_worker_killed_mid_drain_loses_nothing_and_sends_nothing_twice(
    servers, admin, workers, twilio_fake
):
    victim, survivor = pool = workers.start(2)
    practice, staff = new_practice()
    number = practice.numbers[0].e164
    journeys = opted_in_journeys(practice, 20)
    set_gate(practice, open_=False)
    bodies = queue_texts(servers, staff, journeys, rounds=2)
    twilio_fake.send_delay = 0.1  # most of a worker's time is spent inside the call to Twilio
    workers.wait_ready(pool)

    set_gate(practice, open_=True)
    wait_until(lambda: len(twilio_fake.sent_from(number)) >= 8, "the drain never got going", timeout=10)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=5)
    at_kill = len(twilio_fake.sent_from(number))
    assert at_kill < len(bodies), "the drain finished before the kill; slow the fake down"
    # Time passes: the dead worker's leases run out (60 s in production; here we skip the wait).
    db.session.execute(
        update(Message)
        .where(Message.lease_owner == workers.name(victim), Message.status == "sending")
        .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    wait_until(
        lambda: all(m.twilio_sid or m.status == "unconfirmed" for m in outbound(practice)),
        lambda: f"not finished: {Counter(m.status for m in outbound(practice))}\n{workers.tails()}",
    )
    twilio_fake.send_delay = 0.0

    sent = twilio_fake.sent_from(number)
    texts = outbound(practice)
    assert len(sent) > at_kill, "the survivor should have finished the drain"
    assert not [b for b, n in Counter(s["body"] for s in sent).items() if n > 1], "a text went out twice"
    # Nothing lost: every text reached Twilio once, or (killed between hand-over and answer) waits for
    # staff as "unconfirmed" instead of being resent blindly.
    unconfirmed = [m for m in texts if m.status == "unconfirmed"]
    assert {s["body"] for s in sent} | {m.body for m in unconfirmed} == set(bodies)
    assert len(unconfirmed) <= 1, "only the text in the dead worker's hands can be in doubt"
    assert all(m.handed_over_at is not None for m in unconfirmed)
    by_sid = {s["sid"]: s["body"] for s in sent}
    assert all(by_sid[m.twilio_sid] == m.body for m in texts if m.twilio_sid)
    assert survivor.poll() is None, workers.output(survivor)


def test_a_webhook_storm_over_both_servers_stores_each_sid_once(servers, workers, admin):
    a, b = servers
    workers.wait_ready(workers.start(2))  # the new inquiries' welcomes are theirs: they race for each
    practice, staff = new_practice(welcome_enabled=True)
    number = practice.numbers[0].e164
    senders = [f"+1628555{i:04d}" for i in range(50)]  # numbers nobody knows yet: new contacts race too
    sids = {"SM" + uuid.uuid4().hex: senders[i % len(senders)] for i in range(200)}
    posts = [(sid, sender) for sid, sender in sids.items() for _copy in range(3)]
    random.shuffle(posts)
    listeners = [a.socket(a.login(staff.email)), b.socket(b.login(staff.email))]

    def post(job: tuple[int, tuple[str, str]]) -> int:
        i, (sid, sender) = job  # shuffled, so a sid's three copies land on either server
        return servers[i % 2].inbound(f"Storm {sid[-6:]}", from_=sender, to=number, sid=sid).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(post, enumerate(posts)))
    elapsed = time.monotonic() - started
    assert Counter(answers) == {200: len(posts)}, f"{Counter(answers)} in {elapsed:.1f}s"

    db.session.rollback()
    stored = db.session.execute(
        select(Message.twilio_sid, Message.contact_id).where(
            Message.practice_id == practice.id, Message.direction == "inbound"
        )
    ).all()
    assert sorted(sid for sid, _contact in stored) == sorted(sids)
    contacts = {
        c.id: c.phone for c in db.session.scalars(select(Contact).where(Contact.practice_id == practice.id))
    }
    assert sorted(contacts.values()) == sorted(senders)
    journeys = db.session.execute(
        select(Journey.contact_id, func.count())
        .where(Journey.practice_id == practice.id)
        .group_by(Journey.contact_id)
    ).all()
    assert all(count == 1 for _contact, count in journeys) and len(journeys) == len(senders)
    # The workers do each new inquiry's follow-up (within a second of its text, on a quiet machine).
    owed = select(func.count()).where(Message.practice_id == practice.id, Message.follow_up.is_not(None))
    wait_until(lambda: db.session.scalar(owed) == 0, "the workers left follow-ups undone", timeout=30)
    # No duplicate may cause a second automation either: one welcome and one opt-in request at most.
    welcome = select(Template.id).where(Template.practice_id == practice.id, Template.trigger == "welcome")
    once_each = Counter(
        db.session.execute(
            select(Message.contact_id, Message.kind).where(
                Message.practice_id == practice.id,
                Message.direction == "outbound",
                (Message.kind == "opt_in_request") | Message.template_id.in_(welcome),
            )
        ).all()
    )
    assert once_each and max(once_each.values()) == 1
    # Each stored message was announced exactly once, to sockets on both servers alike.
    message_ids = set(db.session.scalars(select(Message.id).where(Message.twilio_sid.in_(sids))))
    for listener in listeners:
        deadline = time.monotonic() + 10
        while len(listener.popups()) < len(sids) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # long enough for a duplicate announcement to arrive too
        heard = Counter(n["message_id"] for n in listener.popups())
        assert set(heard) == message_ids and set(heard.values()) == {1}
    # Leave no queued automations behind for the other tests' workers.
    db.session.execute(
        update(Message)
        .where(Message.practice_id == practice.id, Message.status.in_(["queued", "held_for_consent"]))
        .values(status="cancelled")
    )
    db.session.commit()
