"""The team's workspace in the browser: a note with a mention reaching the colleague's own tab, naming an
unknown number from the journey header (live in a colleague's tab, with who else is viewing), and
desktop alerts asked for from a click and shown without ePHI."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from tests import ephi_watch, factories
from tests.browser import NUMBER, logged_in_tab, open_journey, screenshot, wait_until

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

# Records what the page asks of the Notification API instead of showing anything; the person is "in
# another window" (no focus), which is when a desktop alert is for.
NOTIFICATION_STUB = """
window.__shown = [];
window.__asked = [];
class RecordingNotification {
  constructor(title, options) { window.__shown.push({ title, body: (options || {}).body, tag: (options || {}).tag }); }
  close() {}
}
RecordingNotification.permission = "default";
RecordingNotification.requestPermission = async () => {
  window.__asked.push(navigator.userActivation ? navigator.userActivation.isActive : null);
  RecordingNotification.permission = "granted";
  return "granted";
};
window.Notification = RecordingNotification;
document.hasFocus = () => false;
"""


@pytest.fixture
def colleague(practice):
    """Sam, who gets mentioned."""
    return factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Patel")


def test_the_mention_menu_stays_open_when_the_text_is_left_and_taken_up_again(
    page, live_server, practice, colleague
):
    """Leaving the text (a click elsewhere on the page) used to close the menu 150 ms later even when
    the person had come straight back and opened it again: Enter then typed a new line instead of
    picking the name (seen in full CI runs)."""
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    open_journey(page, live_server, journey.id)
    page.check("#composer-mode-note")
    body = page.locator("#composer-body")
    body.press_sequentially("@S")  # the staff list loads once; after this the menu opens at once
    expect(page.locator("#mention-menu .mention-option")).to_have_text(["Sam Patel"])
    body.press("Escape")
    body.fill("")
    # The text loses the focus and gets it back within the moment (as a click on the switch and back
    # does), and the person types on at once.
    body.evaluate("el => { el.blur(); el.focus(); }")
    page.keyboard.type("@Sa")
    expect(page.locator("#mention-menu .mention-option")).to_have_text(["Sam Patel"])
    page.wait_for_timeout(400)  # longer than the blur's delay: a stale close would have fired by now
    expect(page.locator("#mention-menu")).to_be_visible()
    page.keyboard.press("Enter")
    expect(body).to_have_value("@Sam Patel ")


def test_a_note_with_a_mention_reaches_the_colleagues_tab(
    page, browser, live_server, practice, colleague, fake_twilio
):
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    sam = logged_in_tab(browser, live_server, colleague)  # on the inbox
    open_journey(page, live_server, journey.id)

    page.check("#composer-mode-note")
    expect(page.locator("#composer-note-hint")).to_be_visible()
    expect(page.locator("#composer-send")).to_have_text("Add note")
    ephi_watch.remember("can you call her back about Tuesday")
    page.locator("#composer-body").press_sequentially("@Sa")
    expect(page.locator("#mention-menu .mention-option")).to_have_text(["Sam Patel"])
    screenshot(page, "workspace-mention-menu")
    page.keyboard.press("Enter")
    page.locator("#composer-body").press_sequentially("can you call her back about Tuesday")
    expect(page.locator("#composer-body")).to_have_value("@Sam Patel can you call her back about Tuesday")
    page.click("#composer-send")

    note = page.locator("#thread .message-note")
    expect(note).to_have_count(1)
    expect(note.locator(".note-label")).to_have_text("Internal note · only staff see this")
    expect(note.locator(".note-mention")).to_have_text("@Sam Patel")
    expect(page.locator("#composer-body")).to_have_value("")
    screenshot(page, "workspace-note")

    toast = sam.locator("#toasts .toast-mention")
    expect(toast).to_have_count(1)
    expect(toast.locator(".toast-title")).to_have_text("Dana Reyes mentioned you")
    expect(toast).not_to_contain_text("Tuesday")  # the popup keeps the note's words out
    expect(sam.locator("#nav-mentions-count")).to_have_text("1")
    screenshot(sam, "workspace-mention-popup")
    # The Mentions list, then the thread: opening it reads the mention, in every tab of Sam's.
    sam.click("#nav-mentions")
    expect(sam.locator(".mention-unread")).to_have_count(1)
    expect(sam.locator(".mention-unread")).to_contain_text("Dana Reyes mentioned you on Maria Lopez")
    screenshot(sam, "workspace-mentions-list")
    sam.click(".mention-unread .mention-link")
    wait_until(sam, "window.__inboxReady === true")
    expect(sam.locator("#thread .message-note .message-body")).to_contain_text("can you call her back")
    expect(sam.locator("#nav-mentions-count")).to_be_hidden()
    assert fake_twilio.sent == []  # a note is never texted
    sam.context.close()


def test_naming_an_unknown_number_shows_live_in_a_colleagues_tab(
    page, browser, live_server, practice, colleague
):
    journey = factories.journey(
        factories.contact(practice, phone="+14155550142", first_name="", last_name="")
    )
    open_journey(page, live_server, journey.id)
    sam = logged_in_tab(browser, live_server, colleague)
    open_journey(sam, live_server, journey.id)
    expect(page.locator("#contact-name")).to_have_text("(415) 555-0142")
    expect(page.locator("#contact-edit")).to_have_text("Add name")
    expect(page.locator("#journey-viewers")).to_have_text("Also viewing: Sam Patel")
    expect(sam.locator("#journey-viewers")).to_have_text("Also viewing: Dana Reyes")
    screenshot(page, "workspace-unknown-number")

    page.click("#contact-edit")
    ephi_watch.remember("Jordan", "Okafor", "Jordy")
    page.fill("#contact-first-name", "Jordan")
    page.fill("#contact-last-name", "Okafor")
    page.fill("#contact-guardian-phone", "not a number")
    page.click("#contact-save")
    expect(page.locator("#contact-error")).to_contain_text("guardian_phone")
    screenshot(page, "workspace-contact-dialog-error")
    page.fill("#contact-guardian-phone", "")
    page.select_option("#contact-preferred-language", "es")
    page.click("#contact-save")
    expect(page.locator("#contact-dialog")).to_be_hidden()
    expect(page.locator("#contact-name")).to_have_text("Jordan Okafor")
    expect(page.locator("#contact-edit")).to_have_text("Edit contact")

    expect(sam.locator("#contact-name")).to_have_text("Jordan Okafor")
    expect(sam.locator("#contact-language")).to_have_text("Prefers Spanish")
    screenshot(sam, "workspace-named-live")
    # Sam closes the thread: Dana's header stops naming him.
    sam.goto(live_server.url + "/")
    expect(page.locator("#journey-viewers")).to_be_hidden()
    # On the inbox too, a rename shows without a reload.
    wait_until(sam, "window.__inboxReady === true")
    row = sam.locator(f'.journey-row[data-journey-id="{journey.id}"] .journey-contact')
    expect(row).to_have_text("Jordan Okafor")
    page.click("#contact-edit")
    page.fill("#contact-first-name", "Jordy")
    page.click("#contact-save")
    expect(row).to_have_text("Jordy Okafor")
    sam.context.close()


def test_desktop_alerts_are_asked_for_from_a_click_and_carry_no_ephi(page, live_server, practice):
    practice.ephi_in_popups = False
    db.session.commit()
    factories.journey(factories.contact(practice, phone="+14155550142"))
    page.context.grant_permissions(["notifications"])
    page.context.add_init_script(NOTIFICATION_STUB)
    page.reload()
    wait_until(page, "window.__inboxReady === true")
    button = page.locator("#desktop-alerts")
    expect(button).to_be_visible()
    assert page.evaluate("window.__asked") == []  # nothing asked before the person chose to
    screenshot(page, "workspace-desktop-alerts-button")
    button.click()
    expect(button).to_be_hidden()
    assert page.evaluate("window.__asked") == [True]  # once, from the click

    live_server.inbound("My insurance is Aetna, member 12345", from_="+14155550142", to=NUMBER)
    wait_until(page, "window.__shown.length === 1")
    [shown] = page.evaluate("window.__shown")
    assert shown["title"] == "New text · ML" and shown["body"] == "Intake"
    for ephi in ("Maria", "Lopez", "Aetna", "12345", "555"):
        assert ephi not in shown["title"] + shown["body"]
    # The popup sits below the filter tabs, never over them.
    expect(page.locator("#toasts .toast")).to_have_count(1)
    tabs = page.locator(".inbox-head").bounding_box()
    toast = page.locator("#toasts .toast").bounding_box()
    assert toast["y"] >= tabs["y"] + tabs["height"]
    screenshot(page, "workspace-popup-below-tabs")
