"""Shared bench helpers: a throw-away app environment, seed data, a server process, logins, signed forms.

Everything runs on 127.0.0.1 only, in a temp directory that is removed afterwards.
"""

from __future__ import annotations

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
from contextlib import contextmanager
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "bench password, not secret"
CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
VALUE = re.compile(r'\bvalue="([^"]+)"')


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


class AppEnv:
    """A temp directory with an SQLite (WAL) database, media dir, keys, and the env a deployer would set."""

    def __init__(self, port: int | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_token = secrets.token_hex(16)
        self.env = {
            "DATABASE_URL": f"sqlite:///{self.dir / 'inbox.sqlite3'}",
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
        """Remove the temp directory."""
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
    return emails


def count_inbound(env: AppEnv) -> int:
    """Inbound messages stored so far."""
    import sqlite3

    with sqlite3.connect(env.dir / "inbox.sqlite3") as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE direction='inbound'").fetchone()[0]


class Server:
    """A server process (the app's `python wsgi.py`, or bench/bare_app.py) on env.port."""

    def __init__(self, env: AppEnv, kind: str, gc_probe: Path | None = None, **extra_env: str) -> None:
        self.env, self.kind = env, kind
        script = "wsgi.py" if kind == "app" else "bench/bare_app.py"
        command = [sys.executable, script]
        if gc_probe is not None:  # every collection's pause, into that file (bench/gc_probe.py)
            command = [sys.executable, "bench/gc_probe.py", script]
            extra_env["INBOX_GC_PROBE_OUT"] = str(gc_probe)
        self.log = env.dir / f"{kind}.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env.env, **extra_env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited:\n{self.log.read_text()[-3000:]}")
            try:
                requests.get(self.env.url + "/login", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # a loaded machine is slow to answer
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} server did not start:\n{self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
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
