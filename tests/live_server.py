"""The real server (`python wsgi.py`, eventlet, embedded worker) in its own process, for tests that need
real sockets: a browser-like `requests` login, a real python-socketio client, and signed webhooks."""

from __future__ import annotations

import os
import re
import signal
import socket as pysocket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests import ephi_watch, factories
from tests.fake_twilio import FakeTwilio, sign

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
WAIT = 5.0  # how long a test waits for an event it expects
CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
VALUE = re.compile(r'\bvalue="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with pysocket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveSocket(socketio.Client):
    """A Socket.IO client that records every event it hears, so tests can wait for one."""

    def __init__(self, origin: str | None = None) -> None:
        """No reconnection: a test must see exactly the disconnects the server makes."""
        # websocket-client sends an Origin of its own (the server's URL) unless told which one to send.
        super().__init__(reconnection=False, websocket_extra_options={"origin": origin} if origin else {})
        self.heard: list[tuple[str, Any]] = []
        self.disconnected = threading.Event()
        self._changed = threading.Condition()
        self.on("*", self._record)
        self.on("disconnect", self._on_disconnect)

    def _record(self, event: str, data: Any = None) -> None:
        """Catch-all handler: keep the event and wake any waiter."""
        with self._changed:
            self.heard.append((event, data))
            self._changed.notify_all()

    def _on_disconnect(self, *_reason: Any) -> None:
        """The server (or the transport) closed this socket."""
        self.disconnected.set()
        with self._changed:
            self._changed.notify_all()

    def ask(self, event: str, data: Any = None) -> Any:
        """Emit an event and return the server's acknowledgement."""
        return self.call(event, data, timeout=WAIT)

    def events(self, name: str) -> list[Any]:
        """Payloads of every `name` event heard so far."""
        with self._changed:
            return [data for event, data in self.heard if event == name]

    def popups(self) -> list[Any]:
        """The popup fields of every journey.updated heard so far that announced a new inbound text."""
        return [j["notify"] for j in self.events("journey.updated") if j.get("notify")]

    def wait_for_popup(self, match: Callable[[Any], bool] = lambda _n: True, timeout: float = WAIT) -> Any:
        """The first new-text popup (the `notify` of a journey.updated) that matches."""
        return self.wait_for(
            "journey.updated", lambda j: bool(j.get("notify")) and match(j["notify"]), timeout
        )["notify"]

    def wait_for(
        self, name: str, match: Callable[[Any], bool] = lambda _data: True, timeout: float = WAIT
    ) -> Any:
        """The first `name` event whose payload matches; AssertionError if none comes in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event, data in self.heard:
                    if event == name and match(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching {name!r} within {timeout}s; heard {self.heard!r}")
                self._changed.wait(left)


class LiveServer:
    """A running `python wsgi.py` and the helpers that talk to it like a browser and like Twilio."""

    def __init__(self, url: str, fake_twilio: FakeTwilio, process: subprocess.Popen, log: Path) -> None:
        """Wrap a started server process."""
        self.url = url
        self.fake_twilio = fake_twilio
        self.process = process
        self.log = log
        self.sockets: list[LiveSocket] = []

    def output(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def login(self, email: str, password: str = factories.PASSWORD) -> requests.Session:
        """Log in through the real form; the session then sends the page's CSRF token on every call."""
        browser = requests.Session()
        page = browser.get(f"{self.url}/login", timeout=WAIT)
        field = CSRF_INPUT.search(page.text)
        assert field is not None, "no csrf_token field on the login form"
        token = VALUE.search(field.group(0)).group(1)
        answer = browser.post(
            f"{self.url}/login",
            data={"email": email, "password": password, "csrf_token": token},
            timeout=WAIT,
        )
        # The inbox, or the change-password page for someone holding a temporary password.
        assert answer.ok and "/login" not in answer.url, f"login failed: {answer.status_code}"
        meta = CSRF_META.search(browser.get(f"{self.url}/", timeout=WAIT).text)
        assert meta is not None, "no csrf-token meta tag on the inbox page"
        browser.headers["X-CSRFToken"] = meta.group(1)
        return browser

    @staticmethod
    def cookie_header(browser: requests.Session) -> str:
        """The Cookie header a browser would send with this session's cookies."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)

    def socket(
        self,
        browser: requests.Session | None = None,
        *,
        cookie: str | None = None,
        origin: str | None = None,
        transport: str = "websocket",
    ) -> LiveSocket:
        """A connected Socket.IO client with the browser's cookies (or a raw Cookie header) and Origin.

        Raises socketio.exceptions.ConnectionError when the server refuses the connection."""
        headers = {}
        if browser is not None:
            cookie = self.cookie_header(browser)
        if cookie is not None:
            headers["Cookie"] = cookie
        if origin is not None and transport == "polling":
            headers["Origin"] = origin
        client = LiveSocket(origin)
        self.sockets.append(client)
        client.connect(self.url, headers=headers, transports=[transport], wait_timeout=WAIT)
        return client

    def post_signed(
        self, url: str, params: dict[str, str], signature: str | None = None
    ) -> requests.Response:
        """POST a form to a URL on this server, signed as Twilio signs it (or with a given signature)."""
        if not url.startswith("http"):
            url = self.url + url
        if signature is None:
            signature = sign(url, params, self.fake_twilio.auth_token)
        ephi_watch.remember(params.get("Body"), params.get("From"))
        return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=WAIT)

    def inbound(
        self, body: str, from_: str, to: str, sid: str | None = None, **extra: str
    ) -> requests.Response:
        """Twilio's incoming-message webhook for a text from `from_` to the practice number `to`."""
        params = {
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "AccountSid": self.fake_twilio.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return self.post_signed("/twilio/messages", params)

    def stop(self) -> None:
        """Close our sockets, then SIGTERM the server and SIGKILL it if it lingers."""
        for client in self.sockets:
            if client.connected:
                client.disconnect()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=3)
        ephi_watch.add_output(f"server {self.url}", self.output())


def _wait_until_up(server: LiveServer) -> None:
    """Poll GET /login until the server answers; fail with its output if it dies or never answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"live server exited ({server.process.returncode}):\n{server.output()}")
        try:
            if requests.get(f"{server.url}/login", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or still importing on a busy machine: ask again until the deadline
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"live server did not answer within {START_TIMEOUT}s:\n{server.output()}")


@pytest.fixture
def live_server(app, app_env, fake_twilio, tmp_path, request) -> Iterator[LiveServer]:
    """`python wsgi.py` on a free port, sharing the test's database, with its embedded worker."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **app_env,
        # Its own real URL: webhooks are signed for it and the Socket.IO origin check allows it.
        "INBOX_PUBLIC_URL": url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "INBOX_RUN_WORKER": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "live_server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "wsgi.py"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    server = LiveServer(url, fake_twilio, process, log)
    failed_before = request.session.testsfailed
    _wait_until_up(server)
    yield server
    crashed = server.process.poll() is not None
    server.stop()
    if crashed or request.session.testsfailed > failed_before:
        # Shown by pytest under "Captured stdout teardown" of the failed test.
        print(f"--- live server output ({url}) ---\n{server.output()}")
