"""Shared fixtures: an app on a real database (SQLite, or PostgreSQL with INBOX_TEST_DATABASE),
a local fake of Twilio's API, logged-in clients, and signed webhooks."""

from __future__ import annotations

import base64
import contextvars
import logging
import os
import re
import uuid

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from inbox import create_app
from inbox.extensions import db
from inbox.gateway.rest import TwilioGateway
from inbox.texting.inbound import follow_up_due
from tests import ephi_watch, factories
from tests.fake_twilio import FakeTwilio, sign

# Browser test modules import helpers from this plugin before pytest registers it: rewrite it anyway.
pytest.register_assert_rewrite("tests.browser", "tests.live_server")

PUBLIC_URL = "https://inbox.example.test"
TEST_KEY = "t1:" + base64.b64encode(b"k" * 32).decode()
TEST_INDEX_KEY = base64.b64encode(b"i" * 32).decode()
PG_URL = os.environ.get("INBOX_TEST_DATABASE")


@pytest.fixture(scope="session", autouse=True)
def no_ephi_in_logs():
    """After the whole session: no log line, here or in a started server, holds patient data or a secret."""
    ephi_watch.install()
    ephi_watch.remember(TEST_KEY, "test-secret")
    logging.getLogger("inbox").info("log watch on")
    # Proof the handler sees the app's loggers; otherwise a clean scan would prove nothing.
    assert ("inbox", "log watch on") in ephi_watch.watch.lines, "the log watch is not capturing"
    yield
    leaks = ephi_watch.watch.leaks()
    assert not leaks, "patient data or secrets in the logs:\n" + "\n".join(leaks[:50])


@pytest.fixture(scope="session")
def pg_database():
    """A throwaway PostgreSQL database for the session (when INBOX_TEST_DATABASE is set)."""
    if not PG_URL:
        yield None
        return
    name = f"inbox_test_{uuid.uuid4().hex[:8]}"
    admin = PG_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def fake_twilio():
    """A local fake of Twilio's REST API, reached through the real twilio client."""
    with FakeTwilio(hang_seconds=1.5) as fake:
        ephi_watch.remember(fake.auth_token)
        yield fake


@pytest.fixture
def gateway(fake_twilio):
    """The real Twilio gateway, pointed at the fake; its 1 s timeout is shorter than the fake's hang."""
    return TwilioGateway(
        fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url, timeout=1
    )


@pytest.fixture
def app_env(tmp_path, monkeypatch, fake_twilio, pg_database):
    """The environment a deployer would set, pointing at test resources."""
    env = {
        "DATABASE_URL": pg_database or f"sqlite:///{tmp_path / 'inbox.sqlite3'}",
        "SECRET_KEY": "test-secret",
        "INBOX_DATA_KEYS": TEST_KEY,
        "INBOX_INDEX_KEY": TEST_INDEX_KEY,
        "INBOX_MEDIA_DIR": str(tmp_path / "media"),
        "INBOX_INSTANCE_DIR": str(tmp_path / "instance"),
        "INBOX_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "INBOX_MEDIA_HOSTS": fake_twilio.url,
        "INBOX_SEND_INTERVAL": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def empty_schema() -> None:
    """Every table present and empty (PostgreSQL's session database is reused, so truncate it)."""
    db.create_all()
    if PG_URL:
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as in a real server: its own app context, `g` and
    database session, not the test's (which would otherwise be shared and hide bugs)."""

    def open(self, *args, **kwargs):
        """Make the request outside the test's app context."""
        return contextvars.Context().run(super().open, *args, **kwargs)


def running_app():
    """Build the app from the current environment, with an empty schema, inside its app context."""
    app = create_app({"TESTING": True})
    app.test_client_class = IsolatedClient
    with app.app_context():
        empty_schema()
        yield app
        db.session.remove()
        # Close the pool now: left to the garbage collector, a few hundred tests' idle connections
        # pile up past PostgreSQL's max_connections (100) while the suite runs.
        for engine in db.engines.values():  # the main pool and the webhooks' (inbox/database.py)
            engine.dispose()


@pytest.fixture
def app(app_env):
    """The app with an empty schema (create_all is for tests only; deployments run migrations)."""
    yield from running_app()


@pytest.fixture
def practice(app):
    """A practice (opt-in required, the default) with its number."""
    return factories.practice(number="+15005550006")


@pytest.fixture
def staff(practice):
    """A staff member of `practice`."""
    return factories.user(practice, email="dana@example.com")


class StaffClient:
    """A test client that logs in through the real form and sends CSRF tokens like the pages do."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def login(self, email: str, password: str = factories.PASSWORD):
        """Log in via GET/POST /login with the form's CSRF token."""
        page = self.client.get("/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
        if token is None:
            token = re.search(rb'name="csrf-token" content="([^"]+)"', page.data)
        response = self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token.group(1).decode()}
        )
        self.refresh_csrf()
        return response

    def refresh_csrf(self):
        """Read the page's CSRF meta tag, as the JavaScript does."""
        page = self.client.get("/login")
        match = re.search(rb'name="csrf-token" content="([^"]+)"', page.data)
        self.csrf = match.group(1).decode() if match else None

    def get(self, *args, **kwargs):
        """GET."""
        return self.client.get(*args, **kwargs)

    def _send(self, method, url, json=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if self.csrf:
            headers.setdefault("X-CSRFToken", self.csrf)
        return getattr(self.client, method)(url, json=json, headers=headers, **kwargs)

    def post(self, url, json=None, **kwargs):
        """POST with the CSRF header."""
        return self._send("post", url, json, **kwargs)

    def patch(self, url, json=None, **kwargs):
        """PATCH with the CSRF header."""
        return self._send("patch", url, json, **kwargs)

    def put(self, url, json=None, **kwargs):
        """PUT with the CSRF header."""
        return self._send("put", url, json, **kwargs)


@pytest.fixture
def client(app):
    """An anonymous browser."""
    return app.test_client()


@pytest.fixture
def staff_client(app, staff):
    """A browser logged in as `staff`."""
    c = StaffClient(app.test_client())
    c.login(staff.email)
    return c


@pytest.fixture
def admin(practice):
    """A practice admin of `practice`."""
    return factories.user(
        practice, email="admin@example.com", role="admin", first_name="Avery", last_name="Kim"
    )


@pytest.fixture
def admin_client(app, admin):
    """A browser logged in as `admin`."""
    c = StaffClient(app.test_client())
    c.login(admin.email)
    return c


@pytest.fixture
def blank_url(app_env, tmp_path):
    """An empty database (for a migration to run on) of the suite's kind: a SQLite file, or a PostgreSQL database of its own."""
    if app_env["DATABASE_URL"].startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'before.sqlite3'}"
        return
    name = f"inbox_blank_{uuid.uuid4().hex[:8]}"
    admin = app_env["DATABASE_URL"].rsplit("/", 1)[0].replace("+psycopg", "") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield app_env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def signed_post(client, path: str, params: dict, token: str, url: str | None = None, **kwargs):
    """POST a form signed the way Twilio signs it, for our public URL."""
    signature = sign(url or PUBLIC_URL + path, params, token)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature}, **kwargs)


@pytest.fixture
def inbound(client, app_env):
    """Send an inbound SMS webhook: inbound(body, from_=..., **extra fields), then do the follow-up work
    it left (a new inquiry's welcome) as the worker would within a second; `follow_up=False` leaves it."""

    def send(body="Hello", from_="+14155550100", to="+15005550006", sid=None, follow_up=True, **extra):
        ephi_watch.remember(body, from_)
        params = {
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "AccountSid": app_env["TWILIO_ACCOUNT_SID"],
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        response = signed_post(client, "/twilio/messages", params, app_env["TWILIO_AUTH_TOKEN"])
        if follow_up:
            follow_up_due()
        return response

    return send
