"""Shared bench helpers: a throw-away app environment, seed data, server processes, logins, signed forms.

Everything runs on 127.0.0.1 only, in a temp directory that is removed afterwards. With the postgres
backend, in a fresh database on the local PostgreSQL that is dropped afterwards; with several server
processes, they share the local Redis as their Socket.IO message queue (on a channel of their own).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "bench password, not secret"
CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
VALUE = re.compile(r'\bvalue="([^"]+)"')
PG_SERVER = "postgres@127.0.0.1:5432"  # the local PostgreSQL, trust auth (as .ci/run sets it up)
PG_MAINTENANCE_DBS = ("postgres", "test")
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentiles(values: list[float], points=(50, 95, 99)) -> dict[str, float]:
    """p50/p95/p99 (nearest-rank) of a list; empty dict for no values."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {}
    for p in points:
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        out[f"p{p}"] = ordered[rank]
    out["mean"] = statistics.fmean(ordered)
    out["n"] = len(ordered)
    return out


def machine() -> dict:
    """What this ran on (the figures only mean something beside it)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = Path("/proc/meminfo").read_text().split("\n")[0] if Path("/proc/meminfo").exists() else ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem": " ".join(mem.split()[1:]),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (robust to a noisy machine, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def sampled(pid: int, path: Path | None):
    """py-spy samples process `pid` for the with-block into `path` (folded stacks); no-op for None."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"  # the venv's
    command = [py_spy, "record", "-p", str(pid), "-r", "200", "-f", "raw", "--nonblocking", "-o", str(path)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def save(name: str, result: dict) -> Path:
    """Write a result as bench/results/<name>.json (the docs table is copied from these)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def add_deployment_options(parser: argparse.ArgumentParser) -> None:
    """--backend and --processes: the database and how many server processes (bare and app alike)."""
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite", help="app database")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="server processes behind a sticky round-robin (needs postgres)",
    )


def check_deployment(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what cannot run: several processes on SQLite, or PostgreSQL / Redis not answering."""
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.processes > 1 and args.backend == "sqlite":
        parser.error(
            "--processes > 1 needs --backend postgres: SQLite is the embedded one-process setup "
            "(several processes deploy on PostgreSQL + Redis, docs/deploy.md)"
        )
    if args.backend == "postgres":
        admin_connection().close()
    if args.processes > 1:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            parser.error(f"Redis does not answer at {REDIS_URL} ({exc}): start it as .ci/run does")


def admin_connection() -> psycopg.Connection:
    """An autocommit psycopg connection to the local PostgreSQL's maintenance database."""
    import psycopg

    problem = ""
    for name in PG_MAINTENANCE_DBS:
        try:
            return psycopg.connect(f"postgresql://{PG_SERVER}/{name}", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            problem = str(exc).strip()
    raise SystemExit(f"PostgreSQL does not answer at {PG_SERVER} ({problem}): start it as .ci/run does")


class AppEnv:
    """A temp directory with a database (SQLite in WAL mode, or a fresh PostgreSQL one), media dir, keys,
    and the env a deployer would set; `processes` ports, the first one's URL public (the balancer's)."""

    def __init__(self, port: int | None = None, backend: str = "sqlite", processes: int = 1) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
        self.port = port or free_port()
        self.ports = [self.port] + [free_port() for _ in range(processes - 1)]
        self.url = f"http://127.0.0.1:{self.port}"
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.auth_token = secrets.token_hex(16)
        self.database = f"inbox_bench_{secrets.token_hex(6)}" if backend == "postgres" else None
        self.env = {
            "DATABASE_URL": (
                f"postgresql+psycopg://{PG_SERVER}/{self.database}"
                if self.database
                else f"sqlite:///{self.dir / 'inbox.sqlite3'}"
            ),
            "SECRET_KEY": secrets.token_hex(16),
            "INBOX_DATA_KEYS": "b1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "INBOX_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "INBOX_MEDIA_DIR": str(self.dir / "media"),
            "INBOX_INSTANCE_DIR": str(self.dir / "instance"),
            "INBOX_PUBLIC_URL": self.url,
            # A (fake) account: the simulator stays off; no worker runs, so nothing is ever sent.
            "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
            "INBOX_RUN_WORKER": "0",
            "INBOX_SEND_INTERVAL": "0",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        if processes > 1:  # the processes hear each other's pushes; a channel of our own on a shared Redis
            self.env["SOCKETIO_MESSAGE_QUEUE"] = REDIS_URL
            self.env["SOCKETIO_CHANNEL"] = f"inbox-bench-{secrets.token_hex(6)}"
        if self.database:
            try:
                with admin_connection() as conn:
                    conn.execute(f'CREATE DATABASE "{self.database}"')
            except BaseException:  # the directory goes, and the database if it was made
                self.cleanup()
                raise

    @contextmanager
    def app_context(self):
        """The app in this process (plain threads), for creating the schema and seeding."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            from inbox import create_app

            app = create_app()
            with app.app_context():
                yield app
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def cleanup(self) -> None:
        """Drop the PostgreSQL database (whoever is still connected) and remove the temp directory."""
        try:
            if self.database:
                with admin_connection() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                self.database = None
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def practice_number(i: int) -> str:
    """The texting number of bench practice i."""
    return f"+1500555{i:04d}"


def contact_phone(practice_index: int, i: int) -> str:
    """A contact's number (numbers are unique per practice, so every practice reuses the same ones)."""
    return f"+1415555{i:04d}"


def seed(env: AppEnv, practices: int, staff_per_practice: int, contacts_per_practice: int) -> dict:
    """Schema plus practices, staff (cheap password hash), and opted-in contacts with an open journey."""
    from argon2 import PasswordHasher

    with env.app_context():
        from inbox.extensions import db
        from inbox.models import Contact, Journey, User
        from inbox.texting.practices import create_practice

        db.create_all()
        # Cheap argon2 parameters: logging in 500 bench users must not take minutes.
        pw_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
        emails: dict[int, list[str]] = {}
        for p in range(practices):
            practice = create_practice(f"Bench Practice {p}", practice_number(p), "America/New_York")
            db.session.flush()
            emails[p] = []
            for s in range(staff_per_practice):
                email = f"staff{s}.p{p}@bench.example"
                db.session.add(
                    User(practice_id=practice.id, email=email, role="staff", password_hash=pw_hash)
                )
                emails[p].append(email)
            for c in range(contacts_per_practice):
                contact = Contact(
                    practice_id=practice.id,
                    phone=contact_phone(p, c),
                    first_name=f"C{c}",
                    consent_state="opted_in",
                )
                db.session.add(contact)
                db.session.flush()
                db.session.add(Journey(practice_id=practice.id, contact_id=contact.id, pathway="intake"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()  # no idle connection of ours left in the servers' database
    return emails


def count_inbound(env: AppEnv) -> int:
    """Inbound messages stored so far (in the env's database, SQLite or PostgreSQL)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM messages WHERE direction='inbound'")).scalar_one()
    finally:
        engine.dispose()


class Server:
    """A server process (the app's `python wsgi.py`, or bench/bare_app.py) on `port` (env.port)."""

    def __init__(
        self, env: AppEnv, kind: str, gc_probe: Path | None = None, port: int | None = None, **extra_env: str
    ) -> None:
        self.env, self.kind = env, kind
        port = port or env.port
        self.url = f"http://127.0.0.1:{port}"
        script = "wsgi.py" if kind == "app" else "bench/bare_app.py"
        command = [sys.executable, script]
        if gc_probe is not None:  # every collection's pause, into that file (bench/gc_probe.py)
            command = [sys.executable, "bench/gc_probe.py", script]
            extra_env["INBOX_GC_PROBE_OUT"] = str(gc_probe)
        self.log = env.dir / f"{kind}-{port}.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env.env, "PORT": str(port), **extra_env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_up()
        except BaseException:  # a failed start or Ctrl-C: no server left behind
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        """Return once the server answers its login page; raise with its log if it exits or never does."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited:\n{self.log.read_text()[-3000:]}")
            try:
                requests.get(self.url + "/login", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # a loaded machine is slow to answer
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} server did not start:\n{self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextmanager
def running(env: AppEnv, kind: str, gc_probes: bool = False, **first_env: str) -> Iterator[list[Server]]:
    """A server on each of env.ports, all stopped afterwards. `first_env` goes to the first one only (the
    embedded worker, as a deployer runs one); with gc_probes, process k's collections go to gc-k.txt."""
    servers: list[Server] = []
    try:
        for k, port in enumerate(env.ports):
            probe = env.dir / f"gc-{k}.txt" if gc_probes else None
            servers.append(Server(env, kind, gc_probe=probe, port=port, **(first_env if k == 0 else {})))
        yield servers
    finally:
        for server in servers:
            server.stop()


def login(url: str, email: str) -> str:
    """Log in through the real form; returns the Cookie header a browser would send."""
    browser = requests.Session()
    page = browser.get(f"{url}/login", timeout=10)
    token = VALUE.search(CSRF_INPUT.search(page.text).group(0)).group(1)
    answer = browser.post(
        f"{url}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        timeout=10,
        allow_redirects=False,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"bench login failed for {email}: {answer.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def inbound_form(env: AppEnv, practice: int, contact: int, body: str) -> dict[str, str]:
    """Twilio's incoming-message fields for a text from a seeded contact to a seeded practice."""
    return {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": env.env["TWILIO_ACCOUNT_SID"],
        "From": contact_phone(practice, contact),
        "To": practice_number(practice),
        "Body": body,
        "NumMedia": "0",
    }


def signature(env: AppEnv, form: dict[str, str], path: str = "/twilio/messages") -> str:
    """X-Twilio-Signature for a form posted to our public URL."""
    return RequestValidator(env.auth_token).compute_signature(env.url + path, form)


@contextmanager
def twilio_stand_in(env: AppEnv) -> Iterator[str]:
    """Twilio's REST API in a process of its own (bench/twilio_stand_in.py), for env's account; yields
    the TWILIO_API_BASE_URL to give the servers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.twilio_stand_in", env.env["TWILIO_ACCOUNT_SID"], env.auth_token],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait(timeout=5)
