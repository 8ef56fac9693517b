"""The journey page's consent header in Debian's Chromium: the opt-in request's button and line, and the
"sent 3 minutes ago: send again?" question before a second request within a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Contact, Message
from inbox.texting import consent, wording
from tests import factories
from tests.browser import open_journey, screenshot

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser


def requests_stored(contact_id: int) -> int:
    """How many opt-in requests the contact has in the outbox."""
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(Message.id)).where(
            Message.contact_id == contact_id, Message.kind == "opt_in_request"
        )
    )


def quiet_hours_now(practice) -> None:
    """Quiet hours around the present, whatever the time of day the suite runs."""
    local = datetime.now(ZoneInfo(practice.timezone))
    minutes = local.hour * 60 + local.minute
    practice.quiet_start, practice.quiet_end = (minutes - 60) % 1440, (minutes + 60) % 1440
    db.session.commit()


def test_a_second_request_within_a_day_is_confirmed_first(page, live_server, practice):
    quiet_hours_now(practice)
    contact = factories.contact(practice, phone="+14155550142")
    consent.record(contact, "pending", "opt_in_request", evidence="opt-in request sent")
    contact.opt_in_requested_at = datetime.now(UTC) - timedelta(minutes=3)
    db.session.commit()
    journey = factories.journey(contact)
    open_journey(page, live_server, journey.id)
    expect(page.locator("#consent-resend")).to_have_text("Resend opt-in request")
    page.click("#consent-resend")
    dialog = page.locator("#resend-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#resend-question")).to_have_text("Opt-in request sent 3 minutes ago: send again?")
    screenshot(page, "journey-resend-confirm")
    assert requests_stored(contact.id) == 0  # asking sent nothing
    page.click("#resend-confirm")
    expect(dialog).to_be_hidden()
    # Staff caused it inside quiet hours: it waits, and the page says until when.
    expect(page.locator("#consent-status")).to_contain_text("Opt-in request waits until ")
    assert requests_stored(contact.id) == 1
    expect(page.locator(".message", has_text="Reply YES").locator(".message-status")).to_contain_text(
        "sends at"
    )
    screenshot(page, "journey-resend-waits")


def test_cancel_sends_nothing(page, live_server, practice):
    contact = factories.contact(practice, phone="+14155550143")
    consent.record(contact, "pending", "opt_in_request", evidence="opt-in request sent")
    db.session.commit()
    open_journey(page, live_server, factories.journey(contact).id)
    page.click("#consent-resend")
    expect(page.locator("#resend-question")).to_have_text("Opt-in request sent just now: send again?")
    page.locator("#resend-dialog [data-close]").click()
    expect(page.locator("#resend-dialog")).to_be_hidden()
    assert requests_stored(contact.id) == 0


def test_a_request_never_sent_reads_send(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550144"))
    open_journey(page, live_server, journey.id)
    expect(page.locator("#opt-in-sent")).to_have_text("Opt-in request not sent yet")
    expect(page.locator("#consent-resend")).to_have_text("Send opt-in request")


def test_opted_in_never_sits_beside_not_sent_yet(page, live_server, practice):
    contact = factories.contact(practice, phone="+14155550145")
    consent.record(contact, "opted_in", "phone_attestation", evidence=wording.PHONE_ATTESTATION)
    db.session.commit()
    open_journey(page, live_server, factories.journey(contact).id)
    expect(page.locator("#consent-badge")).to_have_text("Opted in")
    expect(page.locator("#opt-in-sent")).to_be_hidden()
    expect(page.locator("#consent-resend")).to_be_hidden()
    assert "not sent yet" not in page.locator(".contact-header").inner_text()  # what is shown
    assert db.session.get(Contact, contact.id).consent_state == "opted_in"
