"""In Debian's Chromium: the coordinator confirms an opt-out in the person's own words from the top
bar's list, and sets a contact's time zone on the journey page and sees whose night holds texts."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from inbox.texting import consent
from tests import factories
from tests.browser import NUMBER, open_journey, screenshot

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

PHONE = "+12125550188"  # New York, like the practice


def opted_in_journey(practice):
    """Maria, who accepted texts, in an open intake journey."""
    contact = factories.contact(practice, phone=PHONE)
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    db.session.commit()
    return factories.journey(contact)


def test_a_please_stop_text_is_confirmed_from_the_top_bar_list(page, live_server, practice):
    journey = opted_in_journey(practice)
    count = page.locator("#nav-optouts-count")
    expect(count).to_be_hidden()
    live_server.inbound("please stop texting me", from_=PHONE, to=NUMBER)
    expect(count).to_have_text("1")  # live, without a reload
    screenshot(page, "opt-out-requests-count")
    expect(page.locator("#nav-optouts")).to_have_attribute("aria-label", "Opt-out requests, 1 to confirm")
    page.click("#nav-optouts")
    page.wait_for_url("**/opt-out-requests")
    request = page.locator(".optout")
    expect(request).to_have_count(1)
    expect(request.locator(".optout-body")).to_have_text("please stop texting me")
    expect(request.locator(".optout-left")).to_have_text("10 business days left")
    screenshot(page, "opt-out-requests")
    request.locator(".optout-confirm").click()
    expect(page.locator("#optouts-status")).to_have_text(
        "Maria Lopez is opted out. The confirmation text is on its way."
    )
    expect(request).to_have_count(0)
    expect(page.locator("#optouts-empty")).to_be_visible()
    expect(count).to_be_hidden()
    screenshot(page, "opt-out-requests-done")
    open_journey(page, live_server, journey.id)
    expect(page.locator("#consent-badge")).to_have_class(re.compile("badge-red"))
    expect(page.locator("#consent-badge")).to_have_text("Opted out")
    expect(page.locator("#consent-reason")).to_contain_text("in their own words, confirmed by staff")
    expect(page.locator(".message-flag")).to_have_text("Opt-out confirmed by staff")
    confirmation = page.locator(".message", has_text="you are unsubscribed")
    expect(confirmation).to_have_count(1)
    expect(page.locator("#composer-send")).to_be_disabled()
    screenshot(page, "opt-out-confirmed-thread")


def test_a_request_is_dismissed_with_a_reason(page, live_server, practice):
    opted_in_journey(practice)
    live_server.inbound("no more texts at work please, call my cell", from_=PHONE, to=NUMBER)
    page.goto(live_server.url + "/opt-out-requests")
    request = page.locator(".optout")
    request.locator(".optout-dismiss").click()
    dialog = page.locator("#dismiss-dialog")
    expect(dialog).to_be_visible()
    page.fill("#dismiss-reason", "Asked for calls to her cell instead; texts are fine.")
    screenshot(page, "opt-out-request-dismiss")
    dialog.locator("[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(request).to_have_count(0)
    expect(page.locator("#optouts-status")).to_have_text("Dismissed: the reason is kept with your name.")


def test_setting_a_contacts_time_zone_changes_whose_night_it_is(page, live_server, practice):
    # Night in Honolulu right now (whatever time the suite runs), daytime in New York.
    honolulu = datetime.now(ZoneInfo("Pacific/Honolulu"))
    minutes = honolulu.hour * 60 + honolulu.minute
    practice.quiet_start, practice.quiet_end = (minutes - 60) % 1440, (minutes + 60) % 1440
    db.session.commit()
    journey = opted_in_journey(practice)
    open_journey(page, live_server, journey.id)
    zone = page.locator("#contact-time-zone")
    expect(zone.locator("option").first).to_have_text("From the number (New York)")
    quiet = page.locator("#contact-quiet")
    expect(quiet).to_have_text("Daytime for the practice and the contact: automated texts go now.")
    zone.select_option("Pacific/Honolulu")
    expect(page.locator("#journey-save-status")).to_have_text("Time zone saved: Hawaii (Honolulu).")
    expect(quiet).to_contain_text("Quiet hours: an automated text waits until ")
    expect(quiet).to_contain_text("for the contact (Honolulu).")
    screenshot(page, "journey-contact-time-zone")
    page.reload()
    expect(page.locator("#contact-time-zone")).to_have_value("Pacific/Honolulu")
    page.locator("#contact-time-zone").select_option("")
    expect(page.locator("#contact-quiet")).to_have_text(
        "Daytime for the practice and the contact: automated texts go now."
    )
