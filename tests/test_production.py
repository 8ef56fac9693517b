"""Production mode: what it refuses to start without, what it turns on, proxies, /healthz, and the async
library (`INBOX_ASYNC`) with the PostgreSQL driver cooperating with it."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import flask_socketio
import pytest
import requests
from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

from inbox import create_app
from inbox.config import REQUIRED_IN_PRODUCTION, ConfigError
from inbox.crypto import new_vapid_key
from inbox.extensions import db
from inbox.models import WorkerHeartbeat, utcnow
from tests import ephi_watch, factories
from tests.conftest import PUBLIC_URL, signed_post
from tests.fake_twilio import sign
from tests.test_multiprocess import PG_ADMIN_URL, REDIS_URL, postgres_problem, redis_problem

pytest_plugins = ["tests.live_server"]  # the live_server fixture

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_SECRET = "s3cr3t-" + secrets.token_hex(24)
PRODUCTION_VAPID_KEY = new_vapid_key()


@pytest.fixture
def production_env(app_env, monkeypatch) -> dict[str, str]:
    """A complete production environment (the test's database and fake Twilio, an https public URL)."""
    monkeypatch.setenv("INBOX_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", PRODUCTION_SECRET)
    monkeypatch.delenv("INBOX_MEDIA_HOSTS")  # Twilio's own https hosts, the default
    vapid = {"INBOX_VAPID_PRIVATE_KEY": PRODUCTION_VAPID_KEY, "INBOX_VAPID_SUBJECT": "mailto:it@example.org"}
    for name, value in vapid.items():
        monkeypatch.setenv(name, value)
    return {**app_env, "INBOX_ENV": "production", "SECRET_KEY": PRODUCTION_SECRET, **vapid}


@pytest.fixture
def production_app(app, production_env):
    """The app as `INBOX_ENV=production` builds it, on the schema the `app` fixture made."""
    return create_app()


def refusal() -> str:
    """create_app()'s refusal message (fails the test if it starts)."""
    with pytest.raises(ConfigError) as refused:
        create_app()
    return str(refused.value)


# -- refusing to start ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
def test_production_refuses_to_start_without_each_secret(production_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    message = refusal()
    assert f"{missing} is not set" in message
    for name, value in production_env.items():  # names only, never a value
        if name in REQUIRED_IN_PRODUCTION:
            assert value not in message
    # Nothing was generated into instance/ to stand in for the missing secret.
    assert not Path(production_env["INBOX_INSTANCE_DIR"]).exists()


def test_the_server_exits_naming_what_production_lacks(production_env, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    run = subprocess.run(
        [sys.executable, "wsgi.py"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "ConfigError: INBOX_ENV=production refuses to start: TWILIO_AUTH_TOKEN is not set" in run.stderr
    for name in ("SECRET_KEY", "INBOX_DATA_KEYS", "TWILIO_ACCOUNT_SID"):
        assert production_env[name] not in run.stderr + run.stdout


def test_production_ignores_secrets_generated_for_development(production_env, monkeypatch):
    instance = Path(production_env["INBOX_INSTANCE_DIR"])
    monkeypatch.setenv("INBOX_ENV", "development")
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.delenv("INBOX_DATA_KEYS")
    monkeypatch.delenv("INBOX_VAPID_PRIVATE_KEY")
    create_app()  # a development run leaves generated keys behind
    assert {"secret_key", "data_keys", "vapid_private_key"} <= {p.name for p in instance.iterdir()}

    monkeypatch.setenv("INBOX_ENV", "production")
    message = refusal()
    assert "SECRET_KEY is not set" in message and "INBOX_DATA_KEYS is not set" in message
    assert "INBOX_VAPID_PRIVATE_KEY is not set" in message
    assert (instance / "secret_key").read_text() not in message


def test_production_names_every_missing_setting_at_once(production_env, monkeypatch):
    for name in (*REQUIRED_IN_PRODUCTION, "INBOX_PUBLIC_URL"):
        monkeypatch.delenv(name)
    message = refusal()
    assert message.startswith("INBOX_ENV=production refuses to start: ")
    for name in REQUIRED_IN_PRODUCTION:
        assert f"{name} is not set" in message
    assert "INBOX_PUBLIC_URL must be an https:// URL" in message


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("INBOX_PUBLIC_URL", "http://inbox.example.test", "INBOX_PUBLIC_URL must be an https:// URL"),
        ("SECRET_KEY", "changeme", "SECRET_KEY must be at least 32 characters"),
        ("INBOX_MEDIA_HOSTS", "https://api.twilio.com,http://media.example", "https:// origins only"),
        ("TWILIO_AUTH_TOKEN", "   ", "TWILIO_AUTH_TOKEN is not set"),
        ("INBOX_VAPID_SUBJECT", "ops@example.org", "INBOX_VAPID_SUBJECT must be a mailto: or https:// URL"),
    ],
)
def test_production_refuses_unsafe_values(production_env, monkeypatch, name, value, complaint):
    monkeypatch.setenv(name, value)
    message = refusal()
    assert complaint in message
    if name in REQUIRED_IN_PRODUCTION and value.strip():
        assert value not in message  # a weak secret is still a secret


def test_an_unknown_inbox_env_is_refused_not_taken_for_development(app_env, monkeypatch):
    monkeypatch.setenv("INBOX_ENV", "prod")
    assert "INBOX_ENV must be development or production" in refusal()


# -- what production turns on ---------------------------------------------------------------------


def test_production_has_no_simulator_and_no_embedded_worker(production_app):
    assert production_app.config["INBOX_SIMULATOR"] is False
    assert production_app.config["INBOX_RUN_WORKER"] is False
    assert production_app.test_client().get("/simulator/").status_code == 404


def test_production_cookies_are_secure_and_hsts_is_sent(production_app, monkeypatch):
    monkeypatch.setenv("INBOX_SECURE_COOKIES", "0")  # cannot be turned off in production
    page = create_app().test_client().get("/login")
    [cookie] = [c for c in page.headers.getlist("Set-Cookie") if c.startswith("session=")]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes and "SameSite=Lax" in cookie
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


def test_development_sends_no_hsts(app):
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


# -- behind a proxy -------------------------------------------------------------------------------

FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "inbox.example.test",
    # The client sent a forged first entry; our one proxy appended the address it really saw.
    "X-Forwarded-For": "198.51.100.66, 203.0.113.9",
}
PROXY_TO_APP = "http://10.0.0.5:5001"  # nginx talks plain HTTP to the app on an internal address


@pytest.mark.parametrize(
    ("trusted", "scheme", "client", "host"),
    [
        (1, "https", "203.0.113.9", "inbox.example.test"),
        (0, "http", "10.0.0.2", "10.0.0.5:5001"),
    ],
)
def test_forwarded_headers_count_only_from_trusted_proxies(
    app_env, monkeypatch, trusted, scheme, client, host
):
    monkeypatch.setenv("INBOX_TRUSTED_PROXIES", str(trusted))
    app = create_app({"TESTING": True})

    @app.get("/_probe")
    def probe():
        """What the app believes about the request."""
        return {"scheme": request.scheme, "client": request.remote_addr, "host": request.host}

    seen = app.test_client().get(
        "/_probe", base_url=PROXY_TO_APP, headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert seen.json == {"scheme": scheme, "client": client, "host": host}


def test_the_proxy_fix_also_covers_socket_io_requests(app_env, monkeypatch):
    # Flask-SocketIO's middleware answers /socket.io/ before Flask's own wsgi_app: the fix must be outside it.
    monkeypatch.setenv("INBOX_TRUSTED_PROXIES", "1")
    app = create_app({"TESTING": True})
    assert isinstance(app.wsgi_app, ProxyFix)
    inner = app.wsgi_app.app
    while not isinstance(inner, flask_socketio._SocketIOMiddleware):
        inner = inner.wsgi_app
    assert inner is not None


def test_webhook_signatures_hold_behind_tls_termination(
    production_app, practice, monkeypatch, production_env
):
    monkeypatch.setenv("INBOX_TRUSTED_PROXIES", "1")
    behind_proxy = create_app().test_client()
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": production_env["TWILIO_ACCOUNT_SID"],
        "From": "+14155550100",
        "To": "+15005550006",
        "Body": "Hello",
        "NumMedia": "0",
    }
    token = production_env["TWILIO_AUTH_TOKEN"]

    def post(signed_for: str):
        """The webhook as nginx passes it on, signed by Twilio for `signed_for`."""
        headers = {**FORWARDED, "X-Twilio-Signature": sign(signed_for, params, token)}
        return behind_proxy.post(
            "/twilio/messages",
            data=params,
            base_url=PROXY_TO_APP,
            headers=headers,
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )

    assert post(PROXY_TO_APP + "/twilio/messages").status_code == 403  # not the URL Twilio calls
    assert post(PUBLIC_URL + "/twilio/messages").status_code == 200


# -- /healthz -------------------------------------------------------------------------------------


def unused_port() -> int:
    """A local port nothing listens on."""
    from tests.live_server import free_port  # late: pytest loads that module as a plugin

    return free_port()


def heartbeat(name: str, age: timedelta) -> None:
    """A worker that last finished a loop `age` ago."""
    db.session.merge(WorkerHeartbeat(name=name, seen_at=utcnow() - age))
    db.session.commit()


def test_healthz_is_ok_with_a_fresh_worker_and_asks_no_login(app, client):
    heartbeat("db-host-7.internal:4242", timedelta(seconds=2))
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json["status"] == "ok"
    assert answer.json["checks"]["database"] == {"ok": True}
    assert answer.json["checks"]["worker"]["ok"] is True
    assert answer.json["checks"]["worker"]["fresh"] == 1
    assert "redis" not in answer.json["checks"]  # one process, no message queue
    assert answer.headers["Cache-Control"] == "no-store"
    # Nothing about the infrastructure: no worker name, host or database URL.
    body = answer.get_data(as_text=True)
    assert (
        "db-host-7" not in body and "4242" not in body and app.config["SQLALCHEMY_DATABASE_URI"] not in body
    )


@pytest.mark.parametrize("age", [None, timedelta(minutes=5)], ids=["no worker ever", "stale worker"])
def test_healthz_is_503_when_no_worker_ran_lately(app, client, age):
    if age is not None:
        heartbeat("worker:1", age)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json["status"] == "fail"
    assert answer.json["checks"]["database"] == {"ok": True}
    assert answer.json["checks"]["worker"]["ok"] is False


def test_healthz_staleness_is_a_setting(app, client):
    heartbeat("worker:1", timedelta(seconds=90))
    assert client.get("/healthz").status_code == 503
    app.config["INBOX_WORKER_STALE_SECONDS"] = 120
    assert client.get("/healthz").status_code == 200


def test_healthz_reports_a_dead_redis_without_its_address(app, client):
    heartbeat("worker:1", timedelta(seconds=1))
    port = unused_port()
    dead = f"redis://127.0.0.1:{port}/0"
    app.config["SOCKETIO_MESSAGE_QUEUE"] = dead  # read per request; sockets keep their own setting
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json["checks"]["redis"] == {"ok": False}
    assert str(port) not in answer.get_data(as_text=True)


def test_healthz_pings_a_live_redis(app, client):
    if problem := redis_problem():
        pytest.skip(problem)
    heartbeat("worker:1", timedelta(seconds=1))
    app.config["SOCKETIO_MESSAGE_QUEUE"] = REDIS_URL
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json["checks"]["redis"] == {"ok": True}


def test_healthz_reports_a_dead_database_without_its_address(app_env, monkeypatch):
    url = f"postgresql+psycopg://inbox:hunter2@127.0.0.1:{unused_port()}/inbox"
    monkeypatch.setenv("DATABASE_URL", url)
    answer = create_app({"TESTING": True}).test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"] == {"ok": False}
    assert answer.json["checks"]["worker"] == {"ok": False}
    assert "hunter2" not in answer.get_data(as_text=True) and "127.0.0.1" not in answer.get_data(as_text=True)


def test_healthz_needs_no_login_in_production(production_app):
    heartbeat("worker:1", timedelta(seconds=1))
    answer = production_app.test_client().get("/healthz")
    assert answer.status_code == 200, answer.json


# -- the async library ----------------------------------------------------------------------------

# Two greenlets of one server process each run a 0.5 s query. If the driver blocks the hub while it
# waits for PostgreSQL, the second query starts only after the first: ~1 s instead of ~0.5 s.
SLOW_QUERIES = """
import time, wsgi
from sqlalchemy import text
from inbox.extensions import db, socketio

def slow(done):
    with wsgi.app.app_context():
        db.session.execute(text("SELECT pg_sleep(0.5)"))
        db.session.remove()
    done.append(1)

with wsgi.app.app_context():  # connect once first, so connecting is not what we time
    db.session.execute(text("SELECT 1"))
    db.session.remove()
done, started = [], time.monotonic()
for _ in range(2):
    socketio.start_background_task(slow, done)
while len(done) < 2:
    socketio.sleep(0.01)
print(time.monotonic() - started)
"""


def two_slow_queries(tmp_path: Path, hub: str, **env: str) -> float:
    """Seconds two concurrent pg_sleep(0.5) queries take in one `wsgi.py` process under `hub`."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    run = subprocess.run(
        [sys.executable, "-c", SLOW_QUERIES],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("INBOX_", "PSYCOPG_"))},
            "INBOX_ASYNC": hub,
            "DATABASE_URL": PG_ADMIN_URL,
            "INBOX_INSTANCE_DIR": str(tmp_path / "instance"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return float(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("hub", ["eventlet", "gevent"])
def test_postgres_queries_do_not_block_the_other_greenlets(tmp_path, hub):
    assert two_slow_queries(tmp_path, hub) < 0.8


def test_the_slow_query_probe_would_see_a_blocked_hub(tmp_path):
    # psycopg's default C wait under eventlet: what wsgi.py's PSYCOPG_WAIT_FUNC=wait_select prevents.
    assert two_slow_queries(tmp_path, "eventlet", PSYCOPG_WAIT_FUNC="wait_c") > 0.95


def test_wsgi_refuses_an_unknown_async_library():
    run = subprocess.run(
        [sys.executable, "wsgi.py"],
        cwd=ROOT,
        env={**os.environ, "INBOX_ASYNC": "asyncio"},
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "INBOX_ASYNC must be eventlet or gevent" in run.stderr


@pytest.fixture
def gevent_hub(monkeypatch):
    """Make the live server below run under gevent (it inherits the environment)."""
    monkeypatch.setenv("INBOX_ASYNC", "gevent")


def test_gevent_server_serves_pushes_and_sends(gevent_hub, live_server, fake_twilio, staff, practice):
    maps = Path(f"/proc/{live_server.process.pid}/maps")
    if maps.exists():  # Linux: the server really loaded gevent's C extensions
        assert "gevent" in maps.read_text()
    journey = factories.journey(factories.contact(practice, phone="+14155550100", consent_state="opted_in"))
    browser = live_server.login(staff.email)
    sock = live_server.socket(browser)
    assert sock.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}

    assert live_server.inbound("Hi there", from_="+14155550100", to="+15005550006").status_code == 200
    assert sock.wait_for_popup()["journey_id"] == journey.id

    reply = browser.post(
        f"{live_server.url}/api/journeys/{journey.id}/messages", json={"body": "Hello!"}, timeout=5
    )
    assert reply.status_code == 201, reply.text
    message_id = reply.json()["message"]["id"]
    sock.wait_for("message.updated", lambda m: m["id"] == message_id and m["status"] == "sending")
    assert [s["body"] for s in fake_twilio.sent] == ["Hello!"]
    assert requests.get(f"{live_server.url}/healthz", timeout=5).status_code == 200  # embedded worker


# -- Socket.IO long-polling -----------------------------------------------------------------------

POLL = "/socket.io/?EIO=4&transport=polling"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
}


def test_socketio_polling_answers_carry_the_security_headers(production_app, practice, production_env):
    staff = factories.user(practice, email="dana@example.com")
    browser = production_app.test_client()
    https = {"base_url": PUBLIC_URL, "headers": {"Referer": PUBLIC_URL + "/login"}}
    page = browser.get("/login", **https)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    login = browser.post(
        "/login", data={"email": staff.email, "password": factories.PASSWORD, "csrf_token": token}, **https
    )
    assert login.status_code == 302, login.data
    opened = browser.get(POLL, **https)
    sid = json.loads(opened.get_data(as_text=True)[1:])["sid"]
    poll = f"{POLL}&sid={sid}"
    assert browser.post(poll, data="40", content_type="text/plain;charset=UTF-8", **https).status_code == 200
    connected = browser.get(poll, **https)
    assert connected.get_data(as_text=True).startswith("40"), connected.data
    text = "my insurance card is attached"
    ephi_watch.remember(text)
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": production_env["TWILIO_ACCOUNT_SID"],
        "From": "+14155550100",
        "To": "+15005550006",
        "Body": text,
        "NumMedia": "0",
    }
    webhook = signed_post(
        browser, "/twilio/messages", params, production_env["TWILIO_AUTH_TOKEN"], base_url=PUBLIC_URL
    )
    assert webhook.status_code == 200
    pushed = browser.get(poll, **https)
    assert '"notify"' in pushed.get_data(as_text=True)  # patient data in a polling answer...
    for answer in (opened, connected, pushed):  # ...and every polling answer with the strict headers
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (name, answer.headers)
