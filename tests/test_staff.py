"""Admins add, promote, deactivate and reset staff; a deactivated person's logins end at once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, StaffSession, User
from inbox.web.admin import staff as staff_admin
from tests import factories
from tests.conftest import StaffClient


def issued_password(response) -> str:
    """The temporary password shown once on the staff page."""
    return re.search(r"<code>([^<]+)</code>", response.get_data(as_text=True)).group(1)


def test_admin_adds_someone_who_logs_in_with_the_temporary_password(app, admin_client, practice):
    response = admin_client.post(
        "/admin/staff",
        data={"first_name": "Sam", "last_name": "Lee", "email": "Sam@Example.com", "role": "staff"},
    )
    assert response.status_code == 200
    password = issued_password(response)
    user = db.session.scalars(select(User).where(User.email == "sam@example.com")).one()
    assert (user.practice_id, user.role, user.active) == (practice.id, "staff", True)
    assert password not in user.password_hash
    newcomer = StaffClient(app.test_client())
    assert newcomer.login("sam@example.com", password).status_code == 302
    assert newcomer.get("/").location.endswith("/account/password")  # their own password first
    # Shown in that answer only: never again, and never in a cookie.
    assert password not in admin_client.get("/admin/staff").get_data(as_text=True)
    assert all(password not in c.value for c in admin_client.client._cookies.values())


def test_an_email_already_in_use_is_refused_next_to_the_field(admin_client, staff):
    response = admin_client.post(
        "/admin/staff", data={"first_name": "Dup", "email": staff.email, "role": "staff"}
    )
    assert response.status_code == 400
    assert "already has an account" in response.get_data(as_text=True)
    assert db.session.scalar(select(User.id).where(User.first_name == "Dup")) is None


def test_deactivating_someone_ends_their_logins_at_once(admin_client, staff_client, staff):
    assert staff_client.get("/api/journeys").status_code == 200
    assert admin_client.post(f"/admin/staff/{staff.id}", data={"action": "deactivate"}).status_code == 302
    assert staff_client.get("/api/journeys").status_code == 401
    assert staff_client.login(staff.email).status_code == 401
    db.session.expire_all()
    live = db.session.scalars(
        select(StaffSession).where(StaffSession.user_id == staff.id, StaffSession.ended_at.is_(None))
    ).all()
    assert live == []
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == staff.id, AuditEvent.target_type == "users")
    ).all()
    assert "staff.deactivate" in actions and "logout.deactivated" in actions
    assert admin_client.post(f"/admin/staff/{staff.id}", data={"action": "reactivate"}).status_code == 302
    assert staff_client.login(staff.email).status_code == 302


def test_reset_password_ends_logins_and_the_old_password(app, admin_client, staff_client, staff):
    response = admin_client.post(f"/admin/staff/{staff.id}", data={"action": "reset_password"})
    assert response.status_code == 200
    password = issued_password(response)
    assert staff_client.get("/api/journeys").status_code == 401
    assert StaffClient(app.test_client()).login(staff.email).status_code == 401
    assert StaffClient(app.test_client()).login(staff.email, password).status_code == 302


def test_role_change_is_audited(admin_client, staff):
    assert (
        admin_client.post(f"/admin/staff/{staff.id}", data={"action": "role", "role": "admin"}).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(User, staff.id).role == "admin"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.role")).one()
    assert event.detail == {"old": "staff", "new": "admin"}


def test_admins_cannot_lock_themselves_or_the_practice_out(app, admin_client, admin, practice):
    for data in ({"action": "deactivate"}, {"action": "role", "role": "staff"}, {"action": "reset_password"}):
        admin_client.post(f"/admin/staff/{admin.id}", data=data)
    db.session.expire_all()
    me = db.session.get(User, admin.id)
    assert (me.active, me.role) == (True, "admin")
    assert admin_client.get("/admin/staff").status_code == 200
    # A second admin cannot remove the last other admin either.
    other_admin = factories.user(practice, email="second@example.com", role="admin")
    second = StaffClient(app.test_client())
    second.login(other_admin.email)
    assert second.post(f"/admin/staff/{admin.id}", data={"action": "deactivate"}).status_code == 302
    page = second.post(f"/admin/staff/{other_admin.id}", data={"action": "deactivate"}, follow_redirects=True)
    assert "cannot change your own" in page.get_data(as_text=True)


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(practice, admin, staff):
    for change in ({"role": "staff"}, {"active": False}):
        with pytest.raises(staff_admin.StaffError, match="at least one active admin"):
            staff_admin.change(admin, staff, **change)
    second = factories.user(practice, email="second@example.com", role="admin")
    staff_admin.change(admin, second, role="staff")
    assert admin.role == "staff"


def test_staff_pages_are_for_the_admins_own_practice_only(app, staff_client, client, admin_client, staff):
    other = factories.practice(name="Other", number="+15005550999")
    outsider = factories.user(other, email="o@other.example")
    assert staff_client.get("/admin/staff").status_code == 403
    assert staff_client.post(f"/admin/staff/{staff.id}", data={"action": "deactivate"}).status_code == 403
    assert client.get("/admin/staff").status_code == 302
    assert admin_client.post(f"/admin/staff/{outsider.id}", data={"action": "deactivate"}).status_code == 404
    assert "o@other.example" not in admin_client.get("/admin/staff").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, outsider.id).active is True
