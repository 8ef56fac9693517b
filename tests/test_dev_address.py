"""`PORT=5820 make run`: in development the app is live wherever it serves, with no INBOX_PUBLIC_URL."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from PIL import Image

from inbox.config import load_config, served_url
from tests.live_server import ROOT, WAIT, LiveServer, _wait_until_up, free_port

DEMO_PASSWORD = "intake-demo-2026"


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "http://127.0.0.1:5000"),
        ({"PORT": "5820"}, "http://127.0.0.1:5820"),
        ({"HOST": "localhost", "PORT": "8080"}, "http://localhost:8080"),
        ({"HOST": "0.0.0.0", "PORT": "5820"}, "http://127.0.0.1:5820"),  # noqa: S104
        ({"HOST": "::1"}, "http://[::1]:5000"),
    ],
)
def test_development_public_url_is_where_the_server_serves(environ, url):
    assert served_url(environ) == url


def test_an_explicit_public_url_still_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "5820")
    monkeypatch.setenv("INBOX_PUBLIC_URL", "https://inbox.example.test/")
    assert load_config(str(tmp_path))["INBOX_PUBLIC_URL"] == "https://inbox.example.test"


def _make_run_env(tmp_path, port: int) -> dict[str, str]:
    """What `PORT=<port> make run` gives its commands on a fresh checkout: no settings but the port."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    # Only where the files go differs from a checkout's instance/, so the test owns them.
    return {
        **env,
        "PORT": str(port),
        "INBOX_INSTANCE_DIR": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    }


def _flask(env: dict[str, str], *args: str) -> str:
    """`flask --app inbox ...` as the Makefile runs it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "inbox", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _photo() -> bytes:
    """A small JPEG, as the simulated phone attaches it."""
    out = io.BytesIO()
    Image.new("RGB", (320, 200), "teal").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def dev_server(tmp_path):
    """`PORT=<random> make run`'s three steps: migrate, load the demo (its output kept), serve."""
    port = free_port()
    env = _make_run_env(tmp_path, port)
    _flask(env, "db", "upgrade")
    demo = _flask(env, "demo")
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "wsgi.py"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://127.0.0.1:{port}", None, process, log)
    _wait_until_up(server)
    yield server, demo
    server.stop()


def test_make_run_on_another_port_is_live_there(dev_server):
    server, demo = dev_server
    # What it prints points at the real address.
    assert f"Log in at {server.url}/login" in demo
    assert f"Play a client's phone at {server.url}/simulator/" in demo
    assert f"Public appointment-request form: {server.url}/request/" in demo
    assert ":5000" not in demo
    assert f"Intake Inbox on {server.url}" in server.output()
    browser = server.login("dana@example.com", DEMO_PASSWORD)
    # The page's own origin may open a socket (it was "not an accepted origin").
    socket = server.socket(browser, origin=server.url)
    assert socket.connected
    # A photo from the simulated phone is fetched from this port by the embedded worker and gets ready.
    sent = browser.post(
        f"{server.url}/simulator/send",
        data={"from": "(415) 555-0177", "to": "+15005550006", "body": "My card"},
        files={"photo": ("card.jpg", _photo(), "image/jpeg")},
        timeout=WAIT,
    )
    assert sent.status_code == 200, sent.text
    journeys = browser.get(f"{server.url}/api/journeys", timeout=WAIT).json()["journeys"]
    journey_id = journeys[0]["id"]
    deadline, statuses = time.monotonic() + 15, []
    while time.monotonic() < deadline:
        answer = browser.get(f"{server.url}/api/journeys/{journey_id}/attachments", timeout=WAIT)
        statuses = [a["status"] for a in answer.json()["attachments"]]
        if statuses and statuses[0] != "pending":
            break
        time.sleep(0.2)
    assert statuses == ["ready"], server.output()
    photo = browser.get(server.url + answer.json()["attachments"][0]["url"], timeout=WAIT)
    assert photo.status_code == 200 and photo.headers["Content-Type"].startswith("image/")


def test_create_practice_prints_the_form_at_the_served_address(tmp_path):
    port = free_port()
    env = _make_run_env(tmp_path, port)
    _flask(env, "db", "upgrade")
    out = _flask(env, "create-practice", "--name", "Bayview", "--number", "+15005550009")
    assert f"Appointment-request form: http://127.0.0.1:{port}/request/" in out
