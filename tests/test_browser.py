"""End to end in Debian's Chromium (Playwright, never a downloaded browser) against `python wsgi.py`.

Screenshots of the inbox and a thread are saved under test-artifacts/ for people to look at.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from inbox.extensions import db
from inbox.texting import consent
from tests import factories

pytest_plugins = ["tests.live_server"]
pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NUMBER = "+15005550006"
TIMEOUT = 15_000  # ms: the machine is small and shared


@pytest.fixture
def browser():
    """Headless Chromium from Debian's package."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def logged_in_tab(browser, live_server, user):
    """A new browser context logged in as `user`, on the inbox."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    tab.goto(live_server.url + "/login")
    tab.fill("#email", user.email)
    tab.fill("#password", factories.PASSWORD)
    tab.click("button[type=submit]")
    wait_until(tab, "window.__inboxReady === true")
    return tab


@pytest.fixture
def page(browser, live_server, staff):
    """A logged-in staff tab."""
    tab = logged_in_tab(browser, live_server, staff)
    yield tab
    tab.context.close()


@pytest.fixture
def admin_page(browser, live_server, admin):
    """A logged-in practice admin's tab."""
    tab = logged_in_tab(browser, live_server, admin)
    yield tab
    tab.context.close()


def wait_until(tab, expression: str, timeout: float = TIMEOUT / 1000) -> None:
    """Poll a JavaScript expression from outside the page: the strict CSP forbids in-page eval."""
    deadline = time.monotonic() + timeout
    while not tab.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def card_photo() -> bytes:
    """A JPEG standing in for an insurance card."""
    out = io.BytesIO()
    Image.new("RGB", (900, 560), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


def screenshot(tab, name: str) -> None:
    """Keep a picture of the page as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_journey(tab, live_server, journey_id: int) -> None:
    """Go to a journey page and wait until its thread is loaded and its room joined."""
    tab.goto(f"{live_server.url}/journeys/{journey_id}")
    wait_until(tab, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")


def test_inbound_text_pops_up_and_appears_in_the_inbox_without_reload(page, live_server, practice):
    live_server.inbound("Hi! Do you have evening openings?", from_="+14155550142", to=NUMBER)
    toast = page.locator("#toasts .toast").first
    expect(toast.locator(".toast-snippet")).to_contain_text("evening openings")
    expect(page.locator(".journey-row")).to_have_count(1)
    expect(page.locator(".journey-row .unread").first).to_have_text("1")
    expect(page).to_have_title("(1) Intake Inbox")
    screenshot(page, "inbox")
    toast.click()
    page.wait_for_url("**/journeys/*")
    expect(page.locator(".message .message-body").first).to_have_text("Hi! Do you have evening openings?")


def test_photo_arrives_live_and_opens_in_the_viewer(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    open_journey(page, live_server, journey.id)
    sid = "MM" + uuid.uuid4().hex
    url = live_server.fake_twilio.add_media(sid, card_photo(), "image/jpeg")
    live_server.inbound(
        "front of my card",
        from_="+14155550142",
        to=NUMBER,
        sid=sid,
        NumMedia="1",
        MediaUrl0=url,
        MediaContentType0="image/jpeg",
    )
    thumb = page.locator(".message .thumb img").first
    expect(thumb).to_be_visible()
    thumb.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-img")).to_have_attribute("src", f"/attachments/{_attachment_id()}")
    page.click("#viewer-rotate")
    assert "rotate(90deg)" in page.locator("#viewer-img").evaluate("img => img.style.transform")
    page.select_option("#viewer-label", "insurance_front")
    page.click("#viewer-reviewed")
    expect(viewer).to_contain_text("Dana Reyes")
    screenshot(page, "viewer")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def _attachment_id() -> int:
    """The one attachment's id."""
    from sqlalchemy import select

    from inbox.models import Attachment

    db.session.expire_all()
    return db.session.scalar(select(Attachment.id))


def test_composer_shows_the_decision_sends_and_the_tick_changes(page, live_server, practice):
    contact = factories.contact(practice, phone="+14155550142")
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    db.session.commit()
    journey = factories.journey(contact)
    open_journey(page, live_server, journey.id)
    expect(page.locator("#consent-badge")).to_have_class(re.compile("badge-green"))
    page.fill("#composer-body", "Hi {{ contact.first_name }}, Tuesday at 3 works.")
    expect(page.locator("#composer-decision")).to_contain_text("send", ignore_case=True)
    page.click("#composer-send")
    bubble = page.locator(".message", has_text="Hi Maria, Tuesday at 3 works.")
    expect(bubble.locator(".message-status")).to_contain_text("Sending", timeout=TIMEOUT)
    [sent] = live_server.fake_twilio.sent
    assert sent["body"] == "Hi Maria, Tuesday at 3 works." and sent["to"] == "+14155550142"
    params = live_server.fake_twilio.status_callback_params(sent["sid"], "delivered")
    assert live_server.post_signed(sent["status_callback"], params).status_code == 204
    expect(bubble.locator(".message-status")).to_contain_text("Delivered")
    page.select_option("#journey-pathway", "waitlist")
    expect(page.locator(".message-activity .activity-line")).to_contain_text("moved this journey to Waitlist")
    screenshot(page, "thread")


def test_held_reply_says_why_and_stop_blocks_the_composer(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    open_journey(page, live_server, journey.id)
    page.fill("#composer-body", "Hello Maria")
    expect(page.locator("#composer-decision")).to_contain_text("opt-in request")
    page.click("#composer-send")
    expect(page.locator(".message", has_text="Hello Maria").locator(".message-status")).to_contain_text(
        "Held"
    )
    live_server.inbound("STOP", from_="+14155550142", to=NUMBER)
    expect(page.locator("#consent-badge")).to_have_class(re.compile("badge-red"))
    page.fill("#composer-body", "Are you there?")
    expect(page.locator("#composer-decision")).to_contain_text("opted out by text STOP")
    expect(page.locator("#composer-send")).to_be_disabled()


def test_missed_messages_appear_exactly_once_after_a_dropped_connection(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    open_journey(page, live_server, journey.id)
    live_server.inbound("before the drop", from_="+14155550142", to=NUMBER)
    expect(page.locator(".message")).to_have_count(1)
    page.evaluate("import('/static/js/live.js').then(m => m.socket.io.engine.close())")
    wait_until(page, "document.body.dataset.socket === 'disconnected'")
    page.evaluate("import('/static/js/live.js').then(m => m.socket.disconnect())")
    for text in ("while away 1", "while away 2"):
        live_server.inbound(text, from_="+14155550142", to=NUMBER)
    page.evaluate("import('/static/js/live.js').then(m => m.socket.connect())")
    wait_until(page, "document.body.dataset.socket === 'connected'")
    expect(page.locator(".message")).to_have_count(3)
    live_server.inbound("after the return", from_="+14155550142", to=NUMBER)
    expect(page.locator(".message")).to_have_count(4)
    ids = page.locator(".message").evaluate_all("els => els.map(e => e.dataset.messageId)")
    assert len(ids) == len(set(ids)) == 4


def test_public_form_request_appears_live_in_the_staff_inbox(page, browser, live_server, practice):
    visitor = browser.new_context()
    form = visitor.new_page()
    form.goto(f"{live_server.url}/request/{practice.public_token}")
    form.fill("#first_name", "Priya")
    form.fill("#last_name", "Shah")
    form.fill("#phone", "(415) 555-0177")
    form.fill("#reason", "Looking for a therapist for my teenager")
    form.check("#consent")
    form.click("button[type=submit]")
    expect(form.locator("h1")).to_have_text("Thank you")
    visitor.close()
    row = page.locator(".journey-row", has_text="Priya Shah")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Intake")


def test_admin_redacts_a_message_and_the_tombstone_replaces_it(admin_page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    live_server.inbound("my member id is XJ-4471", from_="+14155550142", to=NUMBER)
    open_journey(admin_page, live_server, journey.id)
    bubble = admin_page.locator(".message", has_text="XJ-4471")
    bubble.locator(".message-redact").click()
    dialog = admin_page.locator("#redact-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(admin_page.locator(".message .message-redacted")).to_have_text("Redacted by Avery Kim")
    expect(admin_page.locator(".message", has_text="XJ-4471")).to_have_count(0)
    expect(admin_page.locator(".message-redact")).to_have_count(0)


def test_staff_start_another_journey_for_the_same_contact(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    open_journey(page, live_server, journey.id)
    page.select_option("#new-journey-pathway", "current")
    page.click("#new-journey-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/journeys/(?!{journey.id}$)\d+$"))
    expect(page.locator("#journey-pathway")).to_have_value("current")
    expect(page.locator(".message-activity .activity-line")).to_contain_text(
        "started this journey in Current Clients"
    )


def test_staff_see_no_redact_button_and_no_admin_menu(page, live_server, practice):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    live_server.inbound("hello", from_="+14155550142", to=NUMBER)
    open_journey(page, live_server, journey.id)
    expect(page.locator(".message")).to_have_count(1)
    expect(page.locator(".message-redact")).to_have_count(0)
    expect(page.locator(".topbar-nav a", has_text="Admin")).to_have_count(0)


def test_admin_adds_a_colleague_and_changes_settings_from_the_browser(admin_page, live_server, practice):
    admin_page.click(".topbar-nav a:text('Admin')")
    admin_page.click(".admin-nav a:text('Staff')")
    admin_page.fill("#first_name", "Sam")
    admin_page.fill("#last_name", "Lee")
    admin_page.fill("#email", "sam@example.com")
    admin_page.click("form:has(#email) button[type=submit]")
    expect(admin_page.locator("#issued-password code")).to_have_text(re.compile(r"\S{20,}"))
    expect(admin_page.locator(".data-table")).to_contain_text("sam@example.com")
    admin_page.click(".admin-nav a:text('Practice & consent')")
    admin_page.fill("#quiet_start", "20:00")
    admin_page.uncheck("#ephi_in_popups")
    admin_page.click("button:text('Save settings')")
    expect(admin_page.locator(".flash")).to_have_text("Settings saved.")
    expect(admin_page.locator("#ephi_in_popups")).not_to_be_checked()
    screenshot(admin_page, "admin-settings")


def test_reading_a_thread_in_one_tab_clears_the_badge_in_another(page, live_server, practice):
    live_server.inbound("Do you take Aetna?", from_="+14155550142", to=NUMBER)
    badge = page.locator(".journey-row .unread").first
    expect(badge).to_have_text("1")
    second_tab = page.context.new_page()  # same login, as a second browser tab
    second_tab.goto(page.url)
    wait_until(second_tab, "window.__inboxReady === true")
    second_tab.locator(".journey-row a").first.click()
    expect(second_tab.locator(".message .message-body").first).to_have_text("Do you take Aetna?")
    expect(badge).to_be_hidden()
    second_tab.close()


def test_a_long_thread_loads_earlier_messages_on_request(page, live_server, practice):
    from tests.test_thread_paging import long_thread

    journey = long_thread(practice, 510)
    open_journey(page, live_server, journey.id)
    expect(page.locator(".message")).to_have_count(500)
    expect(page.locator(".message .message-body").first).to_have_text("text 10")
    page.click("#thread-earlier")
    expect(page.locator(".message")).to_have_count(510)
    expect(page.locator(".message .message-body").first).to_have_text("text 0")
    expect(page.locator("#thread-earlier")).to_be_hidden()


def test_switching_opt_in_off_turns_open_badges_green(page, browser, live_server, practice, admin):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    open_journey(page, live_server, journey.id)
    expect(page.locator("#consent-badge")).to_have_class(re.compile("badge-amber"))
    settings = logged_in_tab(browser, live_server, admin)
    settings.goto(f"{live_server.url}/admin/settings")
    settings.uncheck("#require_opt_in")
    settings.click("button:text('Save settings')")
    expect(settings.locator(".flash")).to_have_text("Settings saved.")
    settings.context.close()
    expect(page.locator("#consent-badge")).to_have_class(re.compile("badge-green"))
    expect(page.locator("#consent-badge")).to_have_text("Consent implied")
