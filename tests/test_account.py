"""Staff change their own password; a temporary one opens nothing else until it is changed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, StaffSession, User
from tests import factories
from tests.conftest import StaffClient

NEW = "a quiet harbor at dawn"


@pytest.fixture
def newcomer(app, practice):
    """A staff member who has just been given a temporary password."""
    return factories.user(practice, email="sam@example.com", must_change_password=True)


def change(browser, current=factories.PASSWORD, new=NEW, confirm=None):
    """Submit the change-password form."""
    return browser.post("/account/password", data={"current": current, "new": new, "confirm": confirm or new})


def test_a_temporary_password_opens_only_its_own_change(app, newcomer):
    browser = StaffClient(app.test_client())
    assert browser.login(newcomer.email).status_code == 302
    for page in ("/", "/journeys/1", "/intake/phone", "/simulator/"):
        assert browser.get(page).location.endswith("/account/password"), page
    assert browser.get("/api/journeys").status_code == 403
    form = browser.get("/account/password")
    assert form.status_code == 200 and b"temporary password" in form.data
    assert change(browser).status_code == 302
    assert browser.get("/").status_code == 200 and browser.get("/api/journeys").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, newcomer.id).must_change_password is False
    assert StaffClient(app.test_client()).login(newcomer.email).status_code == 401  # the old one is gone
    assert StaffClient(app.test_client()).login(newcomer.email, NEW).status_code == 302


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"current": "wrong password here"}, "not your current password"),
        ({"new": "short"}, "12 to 200 characters"),
        ({"confirm": "something else entirely"}, "differ"),
        ({"new": factories.PASSWORD}, "different from the current"),
    ],
)
def test_a_bad_change_is_refused_next_to_the_field_and_changes_nothing(
    app, staff, staff_client, fields, error
):
    before = staff.password_hash
    response = change(staff_client, **fields)
    assert response.status_code == 400 and error in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, staff.id).password_hash == before


def test_changing_the_password_ends_the_other_logins_only(app, staff, staff_client):
    other_device = StaffClient(app.test_client())
    other_device.login(staff.email)
    assert change(staff_client).status_code == 302
    assert staff_client.get("/api/journeys").status_code == 200
    assert other_device.get("/api/journeys").status_code == 401
    db.session.expire_all()
    assert len(db.session.scalars(select(StaffSession).where(StaffSession.ended_at.is_(None))).all()) == 1
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.password_change")).one()
    assert event.detail == {"other_logins_ended": 1}


def test_a_reset_by_an_admin_forces_a_change_again(app, admin_client, staff):
    answer = admin_client.post(f"/admin/staff/{staff.id}", data={"action": "reset_password"})
    temporary = re.search(r"<code>([^<]+)</code>", answer.get_data(as_text=True)).group(1)
    browser = StaffClient(app.test_client())
    browser.login(staff.email, temporary)
    assert browser.get("/").location.endswith("/account/password")
