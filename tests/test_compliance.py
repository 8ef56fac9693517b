"""Admins pull the audit trail and proof of consent; nobody else does, and nothing crosses practices."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent
from inbox.texting import consent
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
    contact = factories.contact(practice)
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
