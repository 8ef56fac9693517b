"""Admins pull the audit trail and proof of consent; nobody else does, and nothing crosses practices."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from inbox import consent
from inbox.extensions import db
from inbox.models import AuditEvent
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
