"""The crisis safety net in the browser: a risk text raises a popup that stays (through the passing
toast and a reload) and a banner on its thread, until someone acknowledges it in any tab."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from tests import factories
from tests.browser import NUMBER, open_journey, screenshot, wait_until

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser


def test_risk_text_raises_a_popup_and_banner_that_stay_until_acknowledged(page, live_server, practice):
    practice.office_days = ""  # after hours all week: the safety reply goes too
    db.session.commit()
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    thread_tab = page.context.new_page()  # same login, a second tab on the thread
    open_journey(thread_tab, live_server, journey.id)
    expect(thread_tab.locator("#safety-banner")).to_be_hidden()

    live_server.inbound("I want to kill myself tonight", from_="+14155550142", to=NUMBER)

    card = page.locator("#safety-alerts .safety-card")
    expect(card).to_have_count(1)
    expect(card.locator(".safety-card-title")).to_have_text("Maria Lopez")
    expect(card.locator(".safety-card-snippet")).to_contain_text("Suicide language: I want to kill myself")
    expect(card.locator(".safety-card-meta")).to_contain_text("safety reply sent")
    expect(page.locator("#safety-count")).to_have_text("⚠ 1 safety alert")
    # Styled as the popup it is (a lost brace in app.css once left it a plain block under the list).
    assert page.locator("#safety-alerts").evaluate("el => getComputedStyle(el).position") == "fixed"
    # The ordinary popup of the same text goes by itself; the safety popup does not.
    expect(page.locator("#toasts .toast")).to_have_count(1)
    screenshot(page, "safety-popup")
    expect(page.locator("#toasts .toast")).to_have_count(0, timeout=20_000)
    expect(card).to_be_visible()
    page.reload()
    wait_until(page, "window.__inboxReady === true")
    expect(page.locator("#safety-alerts .safety-card")).to_have_count(1)
    expect(page.locator("#safety-count")).to_be_visible()

    banner = thread_tab.locator("#safety-banner")
    expect(banner).to_be_visible()
    expect(thread_tab.locator("#safety-count")).to_have_text("⚠ 1 safety alert")
    expect(thread_tab.locator("#safety-alerts .safety-card")).to_have_count(0)  # the banner says it here
    expect(thread_tab.locator(".message-flag-risk")).to_have_count(1)
    expect(thread_tab.locator(".message-flag-info")).to_have_count(1)  # the safety reply, in the thread
    expect(thread_tab.locator(".message .message-body").filter(has_text="988")).to_have_count(1)
    screenshot(thread_tab, "safety-banner")

    thread_tab.fill("#safety-banner-note", "Called her, she is with her sister.")
    thread_tab.click("#safety-banner-form button[type=submit]")
    expect(banner).to_be_hidden()
    expect(thread_tab.locator(".message-activity .activity-line").last).to_contain_text(
        "Dana Reyes acknowledged the safety alert: Called her, she is with her sister."
    )
    # Live in the other tab: the popup and the count go without a reload.
    expect(page.locator("#safety-alerts .safety-card")).to_have_count(0)
    expect(page.locator("#safety-count")).to_be_hidden()
    page.reload()
    wait_until(page, "window.__inboxReady === true")
    expect(page.locator("#safety-alerts .safety-card")).to_have_count(0)
    screenshot(thread_tab, "safety-acknowledged")
    thread_tab.close()


def test_popup_without_ephi_is_acknowledged_and_the_thread_banner_goes(page, live_server, practice):
    practice.ephi_in_popups = False
    db.session.commit()
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    thread_tab = page.context.new_page()
    open_journey(thread_tab, live_server, journey.id)

    live_server.inbound("quiero morirme", from_="+14155550142", to=NUMBER)
    card = page.locator("#safety-alerts .safety-card")
    expect(card.locator(".safety-card-title")).to_have_text("ML")
    expect(card.locator(".safety-card-snippet")).to_have_text("Safety alert · Intake")
    expect(page.locator("#safety-alerts")).not_to_contain_text("morirme")
    expect(thread_tab.locator("#safety-banner")).to_be_visible()
    screenshot(page, "safety-popup-no-ephi")

    card.locator("button[type=submit]").click()
    expect(card).to_have_count(0)
    expect(thread_tab.locator("#safety-banner")).to_be_hidden()
    expect(thread_tab.locator("#safety-count")).to_be_hidden()
    expect(thread_tab.locator(".message-activity .activity-line").last).to_contain_text(
        "Dana Reyes acknowledged the safety alert"
    )
    thread_tab.close()


def test_admin_sets_office_hours_holidays_and_the_safety_reply(admin_page, live_server, practice):
    admin_page.goto(f"{live_server.url}/admin/settings")
    section = admin_page.locator("#safety-settings")
    expect(section.locator("#office_1")).to_be_checked()
    expect(section.locator("#office_6")).not_to_be_checked()
    expect(section.locator("#safety_reply_text")).to_contain_text("988")
    section.scroll_into_view_if_needed()
    screenshot(admin_page, "safety-settings")
    admin_page.check("#office_6")
    admin_page.fill("#office_end", "17:30")
    admin_page.fill("#holidays", "2026-12-25\n2027-01-01")
    admin_page.fill(
        "#safety_reply_text", "{{ practice.name }}: texts are read on weekdays. Call 988, or 911."
    )
    admin_page.click("button:text('Save settings')")
    expect(admin_page.locator(".flash")).to_have_text("Settings saved.")
    expect(admin_page.locator("#office_6")).to_be_checked()
    expect(admin_page.locator("#holidays")).to_have_value("2026-12-25\n2027-01-01")
    db.session.expire_all()
    assert (practice.office_days, practice.office_end) == ("123456", 17 * 60 + 30)

    admin_page.fill("#safety_reply_text", "We are closed.")
    admin_page.click("button:text('Save settings')")
    expect(admin_page.locator("#safety_reply_text-error")).to_contain_text("mention 988 and 911")
