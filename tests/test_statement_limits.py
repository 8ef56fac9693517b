"""No request holds a connection for long, and webhooks keep connections of their own (issue 23):
a statement past INBOX_STATEMENT_TIMEOUT is cut off and answers 503, and a text is stored while every
connection of the staff's pool is taken."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select, text

from inbox import create_app
from inbox.extensions import db
from inbox.models import Message
from inbox.texting import search
from tests import ephi_watch
from tests.conftest import PG_URL, IsolatedClient, empty_schema, signed_post

LIMIT_SECONDS = 0.5


@pytest.fixture
def app_env(app_env, monkeypatch):
    """The environment, with a statement limit short enough to reach in a test."""
    monkeypatch.setenv("INBOX_STATEMENT_TIMEOUT", str(LIMIT_SECONDS))
    return app_env


def slow_statement() -> None:
    """A statement that runs for seconds: a sleep on PostgreSQL, a long recursive count on SQLite."""
    if PG_URL:
        db.session.execute(text("SELECT pg_sleep(3)"))
    else:
        db.session.execute(
            text(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000) "
                "SELECT count(*) FROM n"
            )
        )


def test_a_request_whose_statement_runs_past_the_limit_answers_503_and_frees_its_connection(
    app, staff_client, monkeypatch
):
    def stuck(*_args):
        slow_statement()
        return []

    monkeypatch.setattr(search, "search", stuck)
    response = staff_client.get("/api/search", query_string={"q": "insurance"})
    assert response.status_code == 503
    assert "took too long" in response.get_json()["error"]
    db.session.close()  # the test's own session: what is left checked out is the request's
    assert db.engine.pool.checkedout() == 0  # ready for the next request
    monkeypatch.undo()
    assert staff_client.get("/api/search", query_string={"q": "insurance"}).status_code == 200


def test_the_worker_and_commands_run_without_the_requests_limit(app):
    """Outside a request (the worker, a migration, reindex) a statement may take longer."""
    if PG_URL:
        assert db.session.execute(text("SELECT pg_sleep(:s)"), {"s": LIMIT_SECONDS * 2}).all()
    else:
        slow_statement()
    db.session.rollback()


@pytest.fixture
def small_pool_app(app_env):
    """The app with a pool of one connection that waits at most a second for it."""
    options = {"hide_parameters": True, "pool_size": 1, "max_overflow": 0, "pool_timeout": 1}
    app = create_app({"TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": options})
    app.test_client_class = IsolatedClient
    with app.app_context():
        empty_schema()
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_a_webhook_stores_its_text_while_every_staff_connection_is_taken(small_pool_app, app_env):
    from tests import factories

    factories.practice(number="+15005550006")
    db.session.commit()
    db.session.close()
    held = db.engine.connect()  # the pool's only connection: staff requests would wait for it
    try:
        ephi_watch.remember("Still there?", "+14155550100")
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": app_env["TWILIO_ACCOUNT_SID"],
            "From": "+14155550100",
            "To": "+15005550006",
            "Body": "Still there?",
            "NumMedia": "0",
        }
        client = small_pool_app.test_client()
        response = signed_post(client, "/twilio/messages", params, app_env["TWILIO_AUTH_TOKEN"])
        assert response.status_code == 200
    finally:
        held.close()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


@pytest.mark.skipif(not PG_URL, reason="row locks that make a statement wait are PostgreSQL's")
def test_a_webhook_waiting_past_the_limit_for_a_lock_still_stores_its_text(app, practice, client, app_env):
    # A STOP locks its contact first (consent.lock); another transaction holds that row for longer than
    # the requests' limit. Cut off, the webhook would answer 503, which Twilio does not repeat: lost.
    from tests import factories

    contact = factories.contact(practice, phone="+14155550101")
    factories.journey(contact)
    db.session.commit()
    ephi_watch.remember("STOP", "+14155550101")
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": app_env["TWILIO_ACCOUNT_SID"],
        "From": "+14155550101",
        "To": "+15005550006",
        "Body": "STOP",
        "NumMedia": "0",
    }
    holder = db.engine.connect()
    holder.execute(text("SELECT id FROM contacts WHERE id = :id FOR UPDATE"), {"id": contact.id})
    release = threading.Timer(LIMIT_SECONDS * 3, holder.rollback)
    release.start()
    try:
        response = signed_post(client, "/twilio/messages", params, app_env["TWILIO_AUTH_TOKEN"])
    finally:
        release.join()
        holder.close()
    assert response.status_code == 200 and b"<Message" in response.data
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.kind == "inbound")) == 1
