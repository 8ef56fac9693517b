"""Every admin page and action, found from the app's own routes so a new one cannot be forgotten:
anonymous visitors go to the login page, staff get 403, another practice's admin gets 404 for this
practice's records, and none of those attempts changes anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEvent, Message, PracticeNumber, SafetyAlert, Template
from inbox.texting import safety
from inbox.texting.risk import Assessment
from tests import factories
from tests.conftest import StaffClient

FINDING = Assessment("suicide", "plan_intent", "kill + self", "self")  # what the detector would say


def admin_routes(app) -> list[tuple[str, str]]:
    """(method, rule) for every admin route and admin-only API action."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") or rule.endpoint == "api.redact_message":
            routes += [(method, rule.rule) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


@pytest.fixture
def records(practice, inbound, staff):
    """One record of each kind an admin route can name, all belonging to `practice`."""
    inbound("hello there", from_="+14155550100")
    message = db.session.scalars(select(Message).where(Message.direction == "inbound")).one()
    safety.raise_alert(message.contact, message.journey, message, FINDING)
    db.session.commit()
    return {
        "alert_id": db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.practice_id == practice.id)),
        "contact_id": message.contact_id,
        "message_id": message.id,
        "number_id": db.session.scalar(
            select(PracticeNumber.id).where(PracticeNumber.practice_id == practice.id)
        ),
        "template_id": db.session.scalar(
            select(Template.id).where(Template.practice_id == practice.id, Template.mode == "manual")
        ),
        "user_id": staff.id,
    }


def url_for_rule(rule: str, ids: dict[str, int]) -> str:
    """Fill a rule's <int:name> parts from `ids` (a KeyError means a new kind of id: add it above)."""
    for name, value in ids.items():
        rule = rule.replace(f"<int:{name}>", str(value))
    assert "<" not in rule, f"no test record for {rule}"
    return rule


def changes() -> tuple[int, int]:
    """What an attempt could have changed: messages and practice numbers still there, audited changes."""
    audited = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action.in_(
                [
                    "settings.update",
                    "template.save",
                    "template.delete",
                    "staff.create",
                    "staff.role",
                    "staff.deactivate",
                    "message.redact",
                    "number.buy",
                    "number.attach",
                    "number.detach",
                    "oncall.update",
                ]
            )
        )
    )
    return audited, db.session.scalar(select(func.count(PracticeNumber.id)))


def test_the_route_list_covers_every_admin_area(app):
    rules = {rule for _method, rule in admin_routes(app)}
    for prefix in (
        "/admin/settings",
        "/admin/templates",
        "/admin/staff",
        "/admin/numbers",
        "/admin/audit",
        "/admin/spam-watch",
        "/admin/on-call",
        "/admin/safety-alerts",
        "/admin/contacts",
        "/api/messages",
    ):
        assert any(r.startswith(prefix) for r in rules), prefix


def test_anonymous_visitors_are_sent_to_log_in(app, client, records):
    before = changes()
    for method, rule in admin_routes(app):
        response = client.open(url_for_rule(rule, records), method=method)
        if method == "GET":
            assert response.status_code == 302 and "/login" in response.location, rule
        else:  # refused before the view runs: no CSRF token, no login
            assert response.status_code in (302, 400, 401), (method, rule, response.status_code)
    assert changes() == before


def test_staff_get_403_on_every_admin_page_and_action(app, staff_client, records):
    before = changes()
    for method, rule in admin_routes(app):
        response = staff_client.client.open(
            url_for_rule(rule, records), method=method, headers={"X-CSRFToken": staff_client.csrf}
        )
        assert response.status_code == 403, (method, rule, response.status_code)
    assert changes() == before


def test_another_practices_admin_cannot_reach_this_practices_records(app, records):
    other = factories.practice(name="Other", number="+15005550999")
    outsider = StaffClient(app.test_client())
    outsider.login(factories.user(other, email="boss@other.example", role="admin").email)
    before = changes()
    for method, rule in admin_routes(app):
        if "<int:" not in rule:
            continue  # pages of the admin's own practice: covered by each area's tests
        response = outsider.client.open(
            url_for_rule(rule, records), method=method, headers={"X-CSRFToken": outsider.csrf}
        )
        assert response.status_code == 404, (method, rule, response.status_code)
    assert changes() == before
