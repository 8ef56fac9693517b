"""The on-call rota and the safety alerts' record in the browser: an admin sets who is on call in both
shifts, a number and the minutes, sees them kept after a reload; an alert then escalates through the real
server's worker to the first person's phone (the fake Twilio), is acknowledged with a note, and the Safety
alerts page shows who was texted, who acknowledged it with what note, and how long that took."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import SafetyAlert, SafetyEscalation, utcnow
from tests import ephi_watch, factories
from tests.browser import NUMBER, screenshot
from tests.test_safety import always_open

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser


def poll(read, timeout: float = 15.0):
    """Re-read the database until `read()` gives something (the server's worker works meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        if found := read():
            return found
        db.session.rollback()
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the server")


def test_an_admin_sets_the_rota_and_reads_the_alerts_record(admin_page, live_server, practice, fake_twilio):
    always_open(practice)
    fran = factories.user(practice, email="fran@example.com", first_name="Fran", last_name="Ortiz")
    sam = factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Lee")
    tab = admin_page
    ephi_watch.remember("+14155550163", "4155550163")  # Fran's own number: sealed, never in a log

    tab.goto(live_server.url + "/admin/settings")
    tab.locator(".admin-nav").get_by_role("link", name="On call").click()
    expect(tab.locator("h1")).to_have_text("On call")
    tab.select_option("#office_first", label="Fran Ortiz")
    tab.select_option("#office_second", label="Sam Lee")
    tab.select_option("#after_hours_first", label="Sam Lee")
    tab.select_option("#after_hours_second", label="Fran Ortiz")
    tab.fill(f"#phone_{fran.id}", "(415) 555-0163")
    tab.fill("#escalation_minutes", "3")
    tab.get_by_role("button", name="Save on-call rota").click()
    expect(tab.locator(".flash")).to_have_text("On-call rota saved.")

    tab.reload()
    assert tab.input_value("#office_first") == str(fran.id)
    assert tab.input_value("#office_second") == str(sam.id)
    assert tab.input_value("#after_hours_first") == str(sam.id)
    assert tab.input_value("#after_hours_second") == str(fran.id)
    assert tab.input_value("#escalation_minutes") == "3"
    expect(tab.locator(f"#phone-row-{fran.id} .phone-on-file")).to_have_text("••• ••• 0163")
    expect(tab.locator(f"#phone-row-{sam.id} .phone-on-file")).to_have_text("None")
    assert tab.input_value(f"#phone_{fran.id}") == ""  # the number itself is never sent back
    screenshot(tab, "on-call-rota")

    # A risk text; its first step made due now, so the server's own worker escalates it.
    live_server.inbound("I want to kill myself tonight", from_="+14155550142", to=NUMBER)
    alert = poll(lambda: db.session.scalar(select(SafetyAlert)))
    assert alert.escalate_at is not None
    alert.escalate_at = utcnow()
    db.session.commit()
    step = poll(lambda: db.session.scalar(select(SafetyEscalation).where(SafetyEscalation.status == "sent")))
    assert step.user_id == fran.id
    [text] = [s for s in fake_twilio.sent if s["to"] == "+14155550163"]
    assert text["body"] == "A safety alert at Calm Harbor Therapy is waiting. Open Intake Inbox."

    token = tab.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = tab.context.request.post(
        f"{live_server.url}/api/journeys/{alert.journey_id}/safety-ack",
        data={"note": "Reached her by phone; her sister is with her."},
        headers={"X-CSRFToken": token or ""},
    )
    assert answer.ok, answer.text()

    tab.locator(".admin-nav").get_by_role("link", name="Safety alerts").click()
    row = tab.locator(f"#alert-{alert.id}")
    expect(row.locator(".alert-steps")).to_contain_text("Step 1 · Fran Ortiz · sent")
    expect(row.locator(".alert-ack")).to_contain_text("Avery Kim")
    expect(row.locator(".alert-ack")).to_contain_text("“Reached her by phone; her sister is with her.”")
    expect(row.locator(".alert-risk")).to_contain_text("Suicide")
    expect(row.locator(".alert-took")).to_have_text(re.compile(r"^\d+ (s|min \d+ s)$"))
    screenshot(tab, "safety-alerts-record")
