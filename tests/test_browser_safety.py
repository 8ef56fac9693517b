"""The crisis safety net in the browser: a risk text raises a card that stays (through the passing
toast and a reload) and a banner on its thread, until someone acknowledges it in any tab; with the tab in
the background it is a desktop notification that stays, an alarm and the tab's title; its inbox row is
marked; and neither card nor banner ever lies over the composer."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from inbox.models import Message, SafetyAlert, SafetyEscalation, utcnow
from tests import factories
from tests.browser import NUMBER, open_journey, screenshot, wait_until

WHY_TONIGHT = "Why: Suicide · Plan, method or intent · cue “thoughts of killing oneself, with a time or method” · from text"

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

# Watches what the page asks of the real Notification API and of Web Audio, and still lets both act:
# every notification's title and options (and whether the page closed it), every oscillator started, and
# each time the page asks for the window's focus.
OBSERVE = """
window.__notes = [];
window.__notices = [];
window.__tones = [];
if (typeof window.Notification === "function") {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options = {}) {
      super(title, options);
      this.__at = window.__notes.push({ title, ...options, closed: false }) - 1;
      window.__notices.push(this);
    }
    close() {
      window.__notes[this.__at].closed = true;
      super.close();
    }
  };
}
window.__focusCalls = 0;
const realFocus = window.focus.bind(window);
window.focus = () => {
  window.__focusCalls += 1;
  realFocus();
};
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones.push({ type: this.type, frequency: this.frequency.value, state: this.context.state });
  return realStart.apply(this, args);
};
"""
ALARM = "window.__tones.filter((t) => t.type === 'square')"
CHIME = "window.__tones.filter((t) => t.type === 'sine')"


def observe(page, live_server) -> None:
    """Allow notifications, watch them and the sounds, and use the page once (a click: browsers hold a
    page's audio back until the person has touched it, as a coordinator has by the time it matters)."""
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.context.add_init_script(OBSERVE)
    page.reload()
    wait_until(page, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")
    page.locator(".pane-empty").click()


def to_background(page, front) -> None:
    """Put `page` behind `front` as Chromium reports it: it loses the focus (Playwright's focus emulation
    off, which would keep every page focused), and it is hidden (headless never hides a tab by itself, so
    the page is told so, with the event a real tab switch fires)."""
    page.context.new_cdp_session(page).send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    front.bring_to_front()
    wait_until(page, "document.hasFocus() === false")
    page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
          Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


def overlaps(a: dict, b: dict) -> bool:
    """Do two bounding boxes share any area?"""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


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
    # The reply is tracked like any text: the simulator's delivery callback may already have come.
    expect(card.locator(".safety-reply")).to_have_text(re.compile(r"^Safety reply: (Sent ✓|Delivered ✓✓)$"))
    expect(card.locator(".safety-why")).to_have_text(WHY_TONIGHT)  # thoughts with a time are a plan
    expect(card.locator(".safety-escalations")).to_have_count(0)  # no escalation yet: nothing to show
    expect(page.locator("#safety-count")).to_have_text("⚠ 1 safety alert")
    # Docked in the page's flow under the top bar (a card lying over the page once hid the composer).
    region = page.locator("#safety-alerts")
    assert region.evaluate("el => getComputedStyle(el).position") == "static"
    assert region.bounding_box()["y"] >= page.locator(".topbar").bounding_box()["height"]
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


def test_a_safety_alert_in_a_background_tab_notifies_until_clicked_sounds_and_marks_its_row(
    page, live_server, practice
):
    practice.office_days = ""  # after hours: the safety reply goes too
    db.session.commit()
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    observe(page, live_server)
    thread_tab = page.context.new_page()  # a colleague's view of the thread: same login, second tab
    open_journey(thread_tab, live_server, journey.id)
    to_background(page, thread_tab)

    live_server.inbound("I want to kill myself tonight", from_="+14155550142", to=NUMBER)
    wait_until(page, "window.__notes.some((n) => n.title.startsWith('Safety alert'))")
    ordinary, alert = page.evaluate("window.__notes")
    assert ordinary["title"] == "New text · ML" and not ordinary.get("requireInteraction")
    assert alert["title"] == "Safety alert · ML" and alert["body"] == "Intake"
    assert alert["requireInteraction"] is True  # stays until clicked
    # It takes the ordinary one's place (same tag), and alerts again as it does.
    assert alert["tag"] == ordinary["tag"] and alert["renotify"] is True
    for ephi in ("Maria", "Lopez", "kill", "myself", "555", "0142"):
        assert ephi not in alert["title"] + alert["body"]
    # The alarm: its own tone (square waves, two pitches), though the chime for texts is left off.
    alarm = page.evaluate(ALARM)
    assert len(alarm) == 6 and {t["frequency"] for t in alarm} == {988, 740}
    assert page.evaluate(CHIME) == []
    assert all(t["state"] == "running" for t in alarm)  # audible: the page had been used
    assert alert["silent"] is True  # the page's own alarm sounds; the system's would double it
    assert page.title().startswith("⚠ Safety alert")  # over the unread count the text also earned

    row = page.locator(f'.journey-row[data-journey-id="{journey.id}"]')
    expect(row.locator(".journey-safety")).to_be_visible()
    expect(row.locator(".journey-safety")).to_have_text("⚠ Safety alert")
    # Named in words for a screen reader (the icon is hidden from it), not told by the red alone.
    expect(row.locator(".journey-link")).to_have_accessible_name(
        re.compile(r"^[^⚠]*Maria Lopez Safety alert Intake")
    )
    card = page.locator("#safety-alerts .safety-card")
    expect(card.locator(".safety-why")).to_have_text(WHY_TONIGHT)
    screenshot(page, "safety-background-tab")

    # Clicking the notification brings the tab forward with the thread open, and closes it. (The page
    # asks for the focus; Chromium grants it to a real click on a notification, not to this stand-in.)
    page.evaluate("window.__notices.at(-1).dispatchEvent(new Event('click'))")
    assert page.evaluate("window.__focusCalls") == 1
    expect(page.locator(f'#pane-body #journey[data-journey-id="{journey.id}"]')).to_be_visible()
    assert page.url.endswith(f"/journeys/{journey.id}")
    assert page.evaluate("window.__notes.at(-1).closed") is True
    expect(page.locator("#safety-banner")).to_be_visible()

    page.reload()  # the row's marker and the title come back from the server
    wait_until(page, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")
    expect(row.locator(".journey-safety")).to_be_visible()
    wait_until(page, "document.title.startsWith('⚠ Safety alert')")

    thread_tab.fill("#safety-banner-note", "Called her, she is with her sister.")
    thread_tab.click("#safety-banner-form button[type=submit]")
    expect(row.locator(".journey-safety")).to_be_hidden()  # live, from the other tab
    expect(row).not_to_have_class(re.compile("has-safety"))
    wait_until(page, "!document.title.includes('Safety alert')")
    assert page.title() == "Intake Inbox"
    screenshot(page, "safety-acknowledged-elsewhere")
    thread_tab.close()


def test_a_plain_text_in_a_background_tab_is_an_ordinary_notification(page, live_server, practice):
    practice.office_days = ""  # the same hours as the alert's test: only the words differ
    db.session.commit()
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    observe(page, live_server)
    other = page.context.new_page()
    other.goto(live_server.url + "/mentions")
    to_background(page, other)

    live_server.inbound("Can I move my appointment to Friday?", from_="+14155550142", to=NUMBER)
    wait_until(page, "window.__notes.length === 1")
    expect(page.locator("#toasts .toast")).to_have_count(1)  # the push that would carry an alert is in
    time.sleep(0.5)  # and anything a wrong alarm would add after it
    [note] = page.evaluate("window.__notes")
    assert note["title"] == "New text · ML" and note["body"] == "Intake"
    assert not note.get("requireInteraction")  # goes by itself, like any text
    assert page.evaluate(ALARM) == [] and page.evaluate(CHIME) == []  # the chime is opt-in
    assert page.title() == "(1) Intake Inbox"
    row = page.locator(f'.journey-row[data-journey-id="{journey.id}"]')
    expect(row.locator(".journey-safety")).to_be_hidden()
    expect(page.locator("#safety-alerts")).to_be_hidden()
    other.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_alert_card_and_banner_leave_the_composer_usable(page, live_server, practice, width):
    practice.office_days = ""
    db.session.commit()
    factories.journey(factories.contact(practice, phone="+14155550142"))  # Maria: a card
    here = factories.journey(
        factories.contact(
            practice, phone="+14155550177", first_name="Sam", last_name="Diaz", consent_state="opted_in"
        )
    )
    page.set_viewport_size({"width": width, "height": 800 if width > 400 else 844})
    open_journey(page, live_server, here.id)
    live_server.inbound("I want to kill myself tonight", from_="+14155550142", to=NUMBER)
    live_server.inbound("I keep cutting myself", from_="+14155550177", to=NUMBER)  # Sam: this banner
    card = page.locator("#safety-alerts .safety-card")
    expect(card).to_have_count(1)
    expect(page.locator("#safety-banner")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"safety-composer-{width}-top")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing sideways

    composer, send = page.locator("#composer-body"), page.locator("#composer-send")
    composer.scroll_into_view_if_needed()
    for alert in (card, page.locator("#safety-banner")):
        for control in (composer, send):
            assert not overlaps(alert.bounding_box(), control.bounding_box())
    composer.fill("We are here for you. I am calling you now.")
    expect(send).to_be_enabled()
    assert not overlaps(card.bounding_box(), send.bounding_box())
    screenshot(page, f"safety-composer-{width}")
    send.click()  # Playwright refuses to click a button that something lies over
    sent = page.locator("#thread .message .message-body").filter(has_text="I am calling you now")
    expect(sent).to_have_count(1)
    expect(card).to_be_visible()  # still open: replying is no acknowledgement
    expect(page.locator("#safety-banner")).to_be_visible()


# A push as the escalation worker sends it: `safety.updated`, the payload shaped as `safety.alert`. The
# test hands it to the page's own listeners, as its socket would, so the card's drawing is checked apart
# from the worker's timing (tests/test_browser_on_call.py walks the worker's real escalation).
ESCALATED = """async (alert) => {
  const { socket } = await import("/static/js/live.js");
  for (const listener of socket.listeners("safety.updated")) listener(alert);
}"""


def test_the_card_says_why_how_the_reply_went_and_the_escalation_live(page, live_server, practice):
    practice.office_days = ""
    db.session.commit()
    colleague = factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Patel")
    factories.journey(factories.contact(practice, phone="+14155550142"))
    live_server.inbound("I want to kill myself tonight", from_="+14155550142", to=NUMBER)
    card = page.locator("#safety-alerts .safety-card")
    expect(card).to_have_count(1)

    # The detector's reasons and a first escalation text, as the other branches will store them.
    alert = db.session.scalar(db.select(SafetyAlert))
    alert.level, alert.cue, alert.about = "plan_intent", "kill myself", "self"
    alert.reply_id = db.session.scalar(db.select(Message.id).where(Message.kind == "keyword_reply"))
    alert.escalate_at = utcnow() + timedelta(hours=2)  # not due while the test runs (the worker is live)
    db.session.add(
        SafetyEscalation(
            alert_id=alert.id, step=1, user_id=colleague.id, status="delivered", sent_at=utcnow()
        )
    )
    db.session.commit()
    page.reload()
    wait_until(page, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")
    expect(card.locator(".safety-why")).to_have_text(
        "Why: Suicide · Plan, method or intent · cue “kill myself” · from text"
    )
    expect(card.locator(".safety-reply")).to_have_text(re.compile(r"^Safety reply: (Sent ✓|Delivered ✓✓)$"))
    expect(card.locator(".safety-escalation")).to_have_count(1)
    expect(card.locator(".safety-escalation")).to_have_text(re.compile(r"^Step 1 · Sam Patel · delivered · "))
    expect(card.locator(".safety-next")).to_contain_text("unless someone acknowledges")

    # The next step failed, and the alert turns out to be about someone else: the card follows live.
    [shown] = page.evaluate("fetch('/api/safety-alerts').then((r) => r.json())")["alerts"]
    shown["why"]["about"] = "other"
    shown["escalations"].append(
        {
            "step": 2,
            "to": "Avery Kim",
            "status": "failed",
            "error": "No phone on file",
            "at": shown["created_at"],
        }
    )
    shown["next_escalation_at"] = None
    page.evaluate(ESCALATED, shown)
    expect(card.locator(".safety-escalation")).to_have_count(2)
    expect(card.locator(".safety-escalation").last).to_have_text(
        re.compile(r"^Step 2 · Avery Kim · failed: No phone on file · ")
    )
    expect(card.locator(".safety-why")).to_contain_text("about someone else")
    expect(card.locator(".safety-next")).to_have_count(0)
    expect(card.locator(".safety-card-title")).to_have_text("Maria Lopez")
    screenshot(page, "safety-card-escalation")

    # The thread's banner tells the same.
    card.locator(".safety-card-title").click()
    banner = page.locator("#safety-banner")
    expect(banner.locator(".safety-escalation")).to_have_count(2)
    expect(banner.locator(".safety-why")).to_contain_text("Plan, method or intent")


def test_the_safety_alarm_is_on_by_default_and_the_person_can_turn_it_off(page, live_server, practice):
    factories.journey(factories.contact(practice, phone="+14155550142"))
    observe(page, live_server)
    page.click("#sound-prefs-label")
    expect(page.locator("#safety-sound")).to_be_checked()
    expect(page.locator("#alert-sound")).not_to_be_checked()  # the chime for texts stays opt-in
    screenshot(page, "safety-sounds-menu")
    page.locator("#safety-sound").uncheck()
    expect(page.locator("#sound-prefs-label")).to_have_text("Sounds: alarm off")
    page.reload()  # kept in this browser
    wait_until(page, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")
    expect(page.locator("#sound-prefs-label")).to_have_text("Sounds: alarm off")

    live_server.inbound("I want to kill myself tonight", from_="+14155550142", to=NUMBER)
    expect(page.locator("#safety-alerts .safety-card")).to_have_count(1)
    time.sleep(0.5)
    assert page.evaluate(ALARM) == []
    page.click("#sound-prefs-label")
    page.locator("#safety-sound").check()
    wait_until(page, f"{ALARM}.length === 6")  # ticking it plays the alarm once, as a sample
    expect(page.locator("#sound-prefs-label")).to_have_text("Sounds")
