"""In Debian's Chromium: a coordinator schedules follow-ups from the composer and cancels them, snoozes a
journey out of the inbox (and finds it under Snoozed), and marks a thread unread so it is bold again."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from inbox.texting import consent
from tests import factories
from tests.browser import open_journey, screenshot

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

NEW_YORK = ZoneInfo("America/New_York")  # the practice's clock, and Maria's


def maria(practice, phone: str = "+12125550188", first_name: str = "Maria"):
    """An opted-in contact in New York, with an open journey holding one text from her."""
    contact = factories.contact(practice, phone=phone, first_name=first_name, time_zone="America/New_York")
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    journey = factories.journey(contact)
    text = factories.message(journey, "Is Tuesday still on?")
    db.session.flush()
    journey.last_message_id = text.id
    db.session.commit()
    return journey


def night_until_eight(practice) -> None:
    """Quiet hours from now until 8:00 AM on the practice's clock, whatever time the test runs."""
    now = datetime.now(NEW_YORK)
    minutes = now.hour * 60 + now.minute
    practice.quiet_start, practice.quiet_end = (0 if minutes < 8 * 60 else minutes), 8 * 60
    db.session.commit()


def test_schedule_follow_ups_from_the_composer_and_cancel_them(page, live_server, practice):
    night_until_eight(practice)
    journey = maria(practice)
    open_journey(page, live_server, journey.id)

    morning = page.locator("#send-morning")
    expect(morning).to_have_text("Send at 8:00 AM")
    page.fill("#composer-body", "Good morning {{ contact.first_name }}, just checking in.")
    expect(page.locator("#composer-send")).to_be_enabled()
    screenshot(page, "follow-up-composer-night")
    morning.click()
    scheduled = page.locator(".message.status-scheduled")
    expect(scheduled).to_have_count(1)
    expect(scheduled.locator(".message-status")).to_have_text(re.compile(r"^Scheduled · sends .*8:00"))
    expect(page.locator("#send-later-status")).to_contain_text("Scheduled for")
    expect(page.locator("#composer-body")).to_have_value("")

    # A custom time: the day after tomorrow at 10:00 on the practice's clock.
    when = datetime.now(NEW_YORK) + timedelta(days=2)
    page.fill("#composer-body", "Your paperwork is ready.")
    page.click("#send-later-custom > summary")
    page.fill("#send-later-at", when.strftime("%Y-%m-%dT10:00"))
    page.click("#send-later-go")
    expect(scheduled).to_have_count(2)
    expect(scheduled.nth(1).locator(".message-status")).to_have_text(
        re.compile(r"^Scheduled · sends .*10:00")
    )
    screenshot(page, "follow-up-scheduled")

    scheduled.first.locator(".message-cancel").click()
    page.locator("#cancel-dialog [type=submit]").click()
    expect(page.locator(".message.status-cancelled .message-status")).to_have_text(
        re.compile("^Cancelled by ")
    )
    expect(scheduled).to_have_count(1)
    screenshot(page, "follow-up-cancelled")


def test_snooze_takes_a_journey_out_of_the_inbox_and_the_snoozed_filter_lists_it(page, live_server, practice):
    snoozed = maria(practice)
    other = maria(practice, phone="+12125550199", first_name="Sam")
    open_journey(page, live_server, snoozed.id)
    page.click("#snooze-picker > summary")
    screenshot(page, "snooze-menu")
    page.click("[data-snooze=tomorrow]")
    expect(page.locator("#snooze-state")).to_have_text(re.compile(r"^Snoozed until .*8:00"))
    expect(page.locator("#snooze-wake")).to_be_visible()
    expect(page.locator(".message-activity").last).to_contain_text("snoozed this journey until")
    screenshot(page, "snoozed-journey")

    page.goto(live_server.url + "/")
    rows = page.locator("#journey-list .journey-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-journey-id", str(other.id))
    page.click("#filter-snoozed")
    page.wait_for_url("**/?*snoozed=1*")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-journey-id", str(snoozed.id))
    expect(rows.first.locator(".journey-snoozed")).to_be_visible()
    screenshot(page, "snoozed-filter")


def test_mark_unread_makes_the_thread_bold_again_in_the_list(page, live_server, practice):
    journey = maria(practice)
    open_journey(page, live_server, journey.id)  # reading it clears the badge
    page.goto(live_server.url + "/")
    row = page.locator(f'.journey-row[data-journey-id="{journey.id}"]')
    expect(row).not_to_have_class(re.compile("has-unread"))

    open_journey(page, live_server, journey.id)
    page.click("#mark-unread")
    page.wait_for_url(re.compile(r"/(\?.*)?$"))
    expect(row).to_have_class(re.compile("has-unread"))
    expect(row.locator(".unread")).to_have_text("1")
    screenshot(page, "marked-unread")
