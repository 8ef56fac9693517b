"""A person's first day, end to end in Debian's Chromium: a new hire gets in, requests and replies land
where the conversation is, staff stop what waits, and the pages fit a phone's width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from tests import factories
from tests.browser import NUMBER, TIMEOUT, logged_in_tab, open_journey, screenshot, wait_until
from tests.test_browser import card_photo

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser


def test_a_new_coordinator_sets_a_first_password_and_sees_texts_live(admin_page, browser, live_server):
    admin_page.goto(live_server.url + "/admin/staff")
    admin_page.fill("#first_name", "Sam")
    admin_page.fill("#last_name", "Lee")
    admin_page.fill("#email", "sam.lee@example.com")
    admin_page.click("form:has(#email) button[type=submit]")
    one_time = admin_page.locator("#issued-password code").inner_text().strip()
    assert len(one_time) >= 20

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    tab.goto(live_server.url + "/login")
    tab.fill("#email", "sam.lee@example.com")
    tab.fill("#password", one_time)
    tab.click("button[type=submit]")
    # The form to choose a password, and it stays there (no bounce to /login).
    expect(tab.locator("h1")).to_have_text("Change your password")
    tab.wait_for_timeout(1500)
    assert tab.url.endswith("/account/password"), tab.url
    screenshot(tab, "first-login-password")
    tab.fill("#current", one_time)
    tab.fill("#new", "harbour lantern quietly")
    tab.fill("#confirm", "harbour lantern quietly")
    tab.click("main button[type=submit]")
    expect(tab.locator(".flash")).to_have_text("Your password is changed.")
    wait_until(tab, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")
    live_server.inbound("Is there a waitlist for evenings?", from_="+14155550177", to=NUMBER)
    expect(tab.locator(".toast").first).to_contain_text("Is there a waitlist for evenings?")
    expect(tab.locator(".journey-row").first).to_contain_text("555")
    screenshot(tab, "first-login-inbox")
    context.close()


def test_a_website_request_pops_up_unread_with_the_persons_reason(page, browser, live_server, practice):
    visitor = browser.new_context()
    form = visitor.new_page()
    form.goto(f"{live_server.url}/request/{practice.public_token}")
    consent_box = form.locator("#consent").bounding_box()
    assert consent_box["width"] >= 15 and consent_box["height"] >= 15, consent_box
    form.fill("#first_name", "Priya")
    form.fill("#last_name", "Shah")
    form.fill("#phone", "(415) 555-0177")
    form.fill("#reason", "Looking for a therapist for my teenager")
    form.check("#consent")
    screenshot(form, "request-form")
    form.click("button[type=submit]")
    expect(form.locator("h1")).to_have_text("Thank you")
    visitor.close()
    toast = page.locator(".toast").first
    expect(toast).to_contain_text("Priya Shah")
    expect(toast).to_contain_text("Looking for a therapist")
    row = page.locator(".journey-row", has_text="Priya Shah")
    expect(row.locator(".journey-snippet")).to_contain_text("Reason: Looking for a therapist for my teenager")
    expect(row.locator(".unread")).to_have_text("1")
    screenshot(page, "request-news")
    row.locator("a").first.click()
    expect(page.locator(".message.kind-web_request .message-body")).to_contain_text("my teenager")
    expect(page.locator(".message.kind-web_request .message-kind")).to_have_text("Website request")


def test_staff_move_a_text_to_the_journey_it_belongs_to_and_both_threads_update(page, live_server, practice):
    grace = factories.contact(practice, phone="+14155550142", first_name="Grace", consent_state="opted_in")
    noah = factories.journey(grace, stage="Noah")
    ella = factories.journey(grace, pathway="waitlist", stage="Ella")
    factories.message(noah, "Ella's forms are done", twilio_sid="SM" + "a" * 32)
    db.session.commit()
    other = page.context.new_page()
    open_journey(other, live_server, ella.id)
    open_journey(page, live_server, noah.id)
    bubble = page.locator(".message", has_text="Ella's forms are done")
    bubble.locator(".message-move").click()
    page.select_option("#move-target", str(ella.id))
    page.click("#move-form button[type=submit]")
    expect(bubble).to_have_count(0)
    expect(page.locator(".message-activity")).to_contain_text("moved a text to Waitlist · Ella")
    expect(other.locator(".message", has_text="Ella's forms are done")).to_be_visible()
    expect(other.locator(".message-activity")).to_contain_text("moved a text here from Intake · Noah")
    screenshot(other, "moved-text")
    other.close()


def test_staff_cancel_a_held_welcome_and_the_thread_says_who(page, live_server, practice):
    contact = factories.contact(practice, phone="+14155550142", first_name="Maria")
    journey = factories.journey(contact)
    factories.message(
        journey, "Welcome to Calm Harbor", direction="outbound", status="held_for_consent", kind="automated"
    )
    db.session.commit()
    open_journey(page, live_server, journey.id)
    bubble = page.locator(".message", has_text="Welcome to Calm Harbor")
    bubble.locator(".message-cancel").click()
    expect(page.locator("#cancel-dialog")).to_be_visible()
    page.click("#cancel-form button[type=submit]")
    expect(bubble.locator(".message-status")).to_have_text(re.compile(r"Cancelled.*Dana Reyes"))
    expect(bubble.locator(".message-cancel")).to_have_count(0)
    screenshot(page, "cancelled-welcome")


def test_staff_set_an_appointment_and_paperwork_date_and_see_when_texts_go(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142", consent_state="opted_in"))
    open_journey(page, live_server, journey.id)
    expect(page.locator("#paperwork-plan")).to_contain_text("a day before the due date")
    page.fill("#journey-appointment", "2031-03-04T15:30")
    page.fill("#journey-paperwork", "2031-03-01T09:00")
    page.click("#dates-form button[type=submit]")
    expect(page.locator("#journey-save-status")).to_have_text("Dates saved.")
    expect(page.locator("#appointment-plan")).to_contain_text("Set for")
    expect(page.locator("#paperwork-plan")).to_contain_text("The reminder goes")
    expect(page.locator(".message.kind-automated")).to_have_count(1)  # the appointment confirmation
    screenshot(page, "journey-dates")
    page.reload()
    wait_until(page, "window.__inboxReady === true")
    expect(page.locator("#journey-appointment")).to_have_value("2031-03-04T15:30")
    expect(page.locator("#journey-paperwork")).to_have_value("2031-03-01T09:00")


def fits(tab) -> tuple[int, int]:
    """The page's scroll width and the window's width."""
    return tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_at_a_phones_width_nothing_runs_off_the_screen(browser, live_server, practice, staff):
    journey = factories.journey(factories.contact(practice, phone="+14155550142", first_name="Maria"))
    tab = logged_in_tab(browser, live_server, staff)
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.reload()
    wait_until(tab, "window.__inboxReady === true")
    width, window = fits(tab)
    assert width <= window, f"the inbox scrolls sideways: {width} > {window}"
    logout = tab.locator(".logout-form button").bounding_box()
    assert logout and logout["x"] + logout["width"] <= window, logout
    screenshot(tab, "phone-inbox")

    open_journey(tab, live_server, journey.id)
    sid = "MM" + "c" * 32
    url = live_server.fake_twilio.add_media(sid, card_photo(), "image/jpeg")
    live_server.inbound(
        "My card",
        from_="+14155550142",
        to=NUMBER,
        sid=sid,
        NumMedia="1",
        MediaUrl0=url,
        MediaContentType0="image/jpeg",
    )
    expect(tab.locator(".thumb img")).to_be_visible()
    width, window = fits(tab)
    assert width <= window, f"the thread scrolls sideways: {width} > {window}"
    screenshot(tab, "phone-thread")
    tab.locator(".thumb").first.click()
    expect(tab.locator("#viewer")).to_be_visible()
    box = tab.locator("#viewer").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= window, box
    width, window = fits(tab)
    assert width <= window, f"the viewer scrolls sideways: {width} > {window}"
    screenshot(tab, "phone-viewer")
    tab.context.close()


def test_deactivating_a_colleague_asks_first(admin_page, live_server, practice):
    factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Lee")
    admin_page.goto(live_server.url + "/admin/staff")
    row = admin_page.locator("tr", has_text="sam@example.com")
    confirm = row.locator("button[value=deactivate]")
    expect(confirm).to_be_hidden()
    row.locator("summary", has_text="Deactivate").click()
    expect(row).to_contain_text("logged out everywhere at once")
    screenshot(admin_page, "deactivate-asks")
    confirm.click()
    expect(admin_page.locator("tr", has_text="sam@example.com")).to_contain_text("Deactivated")
