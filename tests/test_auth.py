"""Staff login: sessions that really end, throttling, idle logoff, CSRF and tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEvent, StaffSession
from tests import factories
from tests.conftest import StaffClient


def test_pages_and_api_need_login(client):
    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")
    response = client.get("/api/journeys")
    assert response.status_code == 401
    assert response.get_json() == {"error": "login required"}


def test_login_page_carries_csrf_and_strict_headers(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert b'name="csrf_token"' in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"


def test_login_and_logout_end_the_server_side_session(app, staff):
    browser = StaffClient(app.test_client())
    response = browser.login(staff.email)
    assert response.status_code == 302
    assert browser.get("/api/journeys").status_code == 200
    cookie = browser.client.get_cookie("session").value
    assert browser.post("/logout").status_code == 302
    assert browser.get("/api/journeys").status_code == 401
    # A copy of the old cookie is worthless: the server-side session has ended.
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/api/journeys").status_code == 401
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in actions if a.startswith(("login", "logout"))] == ["login", "logout.manual"]


def test_wrong_password_is_refused_and_audited(app, staff):
    response = StaffClient(app.test_client()).login(staff.email, "wrong password")
    assert response.status_code == 401
    assert b"Email or password is not right" in response.data
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "login.failed")) == 1


def test_login_without_csrf_token_is_refused(client, staff):
    response = client.post("/login", data={"email": staff.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/journeys").status_code == 401


def test_login_is_throttled_per_account(app, staff):
    browser = StaffClient(app.test_client())
    for _ in range(5):
        assert browser.login(staff.email, "nope").status_code == 401
    # Even the right password waits out the window now.
    assert browser.login(staff.email).status_code == 429
    assert browser.get("/api/journeys").status_code == 401


def test_login_is_throttled_per_address(app, practice):
    browser = StaffClient(app.test_client())
    for i in range(20):
        browser.login(f"nobody{i}@example.com", "nope")
    victim = factories.user(practice, email="victim@example.com")
    assert browser.login(victim.email).status_code == 429


def test_deactivated_staff_cannot_log_in_and_lose_their_session(app, staff):
    browser = StaffClient(app.test_client())
    browser.login(staff.email)
    staff.active = False
    db.session.commit()
    assert browser.get("/api/journeys").status_code == 401
    assert StaffClient(app.test_client()).login(staff.email).status_code == 401


def test_idle_session_is_logged_off(app, staff, staff_client):
    assert staff_client.get("/api/journeys").status_code == 200
    session_row = db.session.scalar(select(StaffSession))
    session_row.last_seen_at -= timedelta(minutes=app.config["INBOX_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert staff_client.get("/api/journeys").status_code == 401
    db.session.expire_all()
    assert db.session.scalar(select(StaffSession)).ended_at is not None
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "logout.idle")) == 1


def test_json_call_without_csrf_header_is_refused(staff_client, practice):
    c = factories.contact(practice)
    j = factories.journey(c)
    staff_client.csrf = None
    response = staff_client.post(f"/api/journeys/{j.id}/messages", json={"body": "hi"})
    assert response.status_code == 400


@pytest.mark.parametrize("target", ["//evil.example/phish", "/\\evil.example", "https://evil.example/"])
def test_open_redirect_after_login_is_refused(app, staff, target):
    browser = StaffClient(app.test_client())
    page = browser.client.get("/login")
    import re

    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    response = browser.client.post(
        "/login",
        query_string={"next": target},
        data={"email": staff.email, "password": factories.PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "path",
    [
        "/journeys/{j}",
        "/api/journeys/{j}",
        "/api/journeys/{j}/messages",
        "/api/journeys/{j}/attachments",
        "/api/contacts/{c}/consent",
    ],
)
def test_another_practices_records_are_404(staff_client, path):
    other = factories.practice(name="Other Practice", number="+15005550999")
    c = factories.contact(other, phone="+14155550199")
    j = factories.journey(c)
    assert staff_client.get(path.format(j=j.id, c=c.id)).status_code == 404


def test_another_practices_journey_cannot_be_written(staff_client):
    other = factories.practice(name="Other Practice", number="+15005550999")
    j = factories.journey(factories.contact(other, phone="+14155550199"))
    assert staff_client.post(f"/api/journeys/{j.id}/messages", json={"body": "hi"}).status_code == 404
    assert staff_client.patch(f"/api/journeys/{j.id}", json={"stage": "x"}).status_code == 404


def test_inbox_lists_only_own_practice(staff_client, practice):
    mine = factories.journey(factories.contact(practice))
    other = factories.practice(name="Other Practice", number="+15005550999")
    factories.journey(factories.contact(other, phone="+14155550199"))
    ids = [j["id"] for j in staff_client.get("/api/journeys").get_json()["journeys"]]
    assert ids == [mine.id]
