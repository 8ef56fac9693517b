"""The two-pane workspace in Debian's Chromium: threads switch beside the list without a page load (back,
forward and reload keep the thread), rows say who is waiting, the views filter, search opens its result
at the matching text, and the keyboard walks the list, assigns and closes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from inbox.models import Journey
from tests import ephi_watch, factories
from tests.browser import NUMBER, screenshot, wait_until

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

THREAD_READY = "window.__inboxReady === true && document.body.dataset.socket === 'connected'"


@pytest.fixture
def threads(practice, staff):
    """Three open journeys, newest first in the list: Ava (waiting), Ben (we answered), Cy (unread, older)."""

    def journey(phone: str, first: str):
        return factories.journey(factories.contact(practice, phone=phone, first_name=first, last_name="Test"))

    cy, ben, ava = (
        journey("+14155550103", "Cy"),
        journey("+14155550102", "Ben"),
        journey("+14155550101", "Ava"),
    )
    factories.texted(cy, "Is there a waitlist for evenings?")
    factories.texted(ben, "Can I bring my insurance card on Thursday?")
    factories.texted(ben, "Yes, bring it along", direction="outbound", author_id=staff.id)
    factories.texted(ava, "Hello, I need an appointment")
    return {"ava": ava.id, "ben": ben.id, "cy": cy.id}


def row(tab, journey_id: int):
    """The list row of a journey."""
    return tab.locator(f'#journey-list .journey-row[data-journey-id="{journey_id}"]')


def open_row(tab, journey_id: int) -> None:
    """Click a row and wait until its thread is loaded and its room joined."""
    row(tab, journey_id).locator("a").click()
    expect(tab.locator("#journey")).to_have_attribute("data-journey-id", str(journey_id))
    wait_until(tab, THREAD_READY)


def test_threads_switch_beside_the_list_without_a_page_load(threads, page, live_server):
    page.evaluate("window.__sameDocument = 'yes'")
    open_row(page, threads["ava"])
    assert page.url.endswith(f"/journeys/{threads['ava']}")
    expect(page.locator("#thread .message-body")).to_have_text(["Hello, I need an appointment"])
    expect(page.locator("#composer-body")).to_be_focused()
    open_row(page, threads["ben"])
    assert page.url.endswith(f"/journeys/{threads['ben']}")
    expect(page.locator("#thread .message-body")).to_have_text(
        ["Can I bring my insurance card on Thursday?", "Yes, bring it along"]
    )
    expect(row(page, threads["ben"]).locator("a")).to_have_attribute("aria-current", "true")
    assert page.evaluate("window.__sameDocument") == "yes", "switching threads loaded a new page"
    screenshot(page, "workspace-two-panes")

    # A text to the thread on screen arrives live; one to the thread we left does not land here.
    live_server.inbound("See you then", from_="+14155550102", to=NUMBER)
    live_server.inbound("Still there?", from_="+14155550101", to=NUMBER)
    expect(page.locator("#thread .message-body").last).to_have_text("See you then")
    expect(row(page, threads["ava"]).locator(".journey-snippet-text")).to_have_text("Still there?")
    expect(page.locator("#thread")).not_to_contain_text("Still there?")

    page.go_back()
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ava"]))
    assert page.url.endswith(f"/journeys/{threads['ava']}")
    expect(page.locator("#thread .message-body").last).to_have_text("Still there?")
    page.go_forward()
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ben"]))
    assert page.evaluate("window.__sameDocument") == "yes", "back/forward loaded a new page"

    page.reload()
    wait_until(page, THREAD_READY)
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ben"]))
    expect(page.locator("#thread .message-body").last).to_have_text("See you then")
    expect(row(page, threads["ben"]).locator("a")).to_have_attribute("aria-current", "true")


def test_rows_say_who_is_waiting_and_the_views_filter_with_counts(threads, page, live_server, staff):
    expect(row(page, threads["ben"]).locator(".journey-from")).to_have_text("You:")
    expect(row(page, threads["ava"]).locator(".journey-from")).to_have_text("")
    expect(row(page, threads["ava"]).locator(".journey-consent")).to_have_class(
        "consent-chip journey-consent chip-amber"
    )
    expect(row(page, threads["cy"])).to_have_class("journey-row has-unread")
    expect(page.locator('[data-count="waiting"]')).to_have_text("2")
    expect(page.locator('[data-count="mine"]')).to_have_text("0")

    page.evaluate("window.__sameDocument = 'yes'")
    page.get_by_role("link", name="Waiting on us").click()
    expect(page.locator("#journey-list .journey-row")).to_have_count(2)
    expect(row(page, threads["ben"])).to_have_count(0)
    assert page.url.endswith("/?waiting=1")

    # Assign to me from the thread pane: Mine counts it, and Waiting + Mine together list it alone.
    open_row(page, threads["ava"])
    assert page.url.endswith(f"/journeys/{threads['ava']}?waiting=1")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#assign-me")).to_have_text("Assigned to you")
    expect(page.locator('[data-count="mine"]')).to_have_text("1")
    page.get_by_role("link", name="Mine").click()
    expect(page.locator("#journey-list .journey-row")).to_have_count(1)
    expect(row(page, threads["ava"])).to_have_count(1)
    # A consent change recolours the row at once.
    practice_contact = db.session.get(Journey, threads["ava"]).contact
    live_server.inbound("STOP", from_="+14155550101", to=NUMBER)
    expect(row(page, threads["ava"]).locator(".journey-consent")).to_have_class(
        "consent-chip journey-consent chip-red"
    )
    assert practice_contact.id
    assert page.evaluate("window.__sameDocument") == "yes"
    screenshot(page, "workspace-views")

    page.reload()
    wait_until(page, THREAD_READY)
    expect(page.locator('.view-tabs [aria-current="page"]')).to_have_text(["Waiting on us 2", "Mine 1"])


def test_a_search_opens_its_result_in_the_right_pane_at_the_matching_text(
    threads, page, live_server, practice
):
    ben = db.session.get(Journey, threads["ben"])
    for n in range(40):  # a long thread: the match must be scrolled to
        factories.message(
            ben, f"Filler text number {n}", direction="outbound", author_id=None, kind="automated"
        )
    db.session.commit()
    match = factories.texted(ben, "Ok, insurance card Thursday works")
    for n in range(20):
        factories.message(ben, f"Later text {n}", direction="outbound", kind="automated")
    db.session.commit()
    words = "thursday insurance"
    ephi_watch.remember(words)  # the suite fails if the words reach a log line

    page.evaluate("window.__sameDocument = 'yes'")
    page.keyboard.press("/")
    expect(page.locator("#search-box")).to_be_focused()
    page.keyboard.type(words)
    results = page.locator("#search-list .search-hit")
    expect(results.first).to_be_visible()
    expect(page.locator("#journey-list")).to_be_hidden()
    hit = page.locator(f'#search-list .search-hit[data-message-id="{match.id}"]')
    expect(hit.locator("mark")).to_have_text(["insurance", "Thursday"])
    screenshot(page, "workspace-search")
    hit.locator("a").click()
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ben"]))
    matched = page.locator(f'#thread .message[data-message-id="{match.id}"]')
    expect(page.locator("#thread .message-match")).to_have_attribute("data-message-id", str(match.id))
    expect(matched).to_be_in_viewport()
    assert "thursday" not in page.url.lower() and "insurance" not in page.url.lower()
    assert page.evaluate("JSON.stringify(Object.entries(localStorage))") == "[]"
    assert page.evaluate("window.__sameDocument") == "yes"
    screenshot(page, "workspace-search-opened")
    # Esc in the box goes back to the list.
    page.locator("#search-box").focus()
    page.keyboard.press("Escape")
    expect(page.locator("#journey-list")).to_be_visible()


def test_the_keyboard_walks_the_list_assigns_and_closes_and_moves_on(threads, page, live_server):
    page.evaluate("window.__sameDocument = 'yes'")
    page.keyboard.press("j")
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ava"]))
    wait_until(page, THREAD_READY)
    expect(page.locator("#composer-body")).to_be_focused()
    page.keyboard.type("jk")  # typing in the composer is typing, not shortcuts
    expect(page.locator("#composer-body")).to_have_value("jk")
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ava"]))
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ben"]))
    wait_until(page, THREAD_READY)
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ava"]))
    wait_until(page, THREAD_READY)
    page.keyboard.press("Escape")
    page.keyboard.press("u")  # Cy's text is unread (Ava's was read when it opened)
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["cy"]))
    wait_until(page, THREAD_READY)
    expect(row(page, threads["cy"]).locator(".unread")).to_be_hidden()
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#assign-me")).to_have_text("Assigned to you")
    expect(row(page, threads["cy"]).locator(".journey-assignee")).not_to_have_text("Unassigned")
    page.keyboard.press("?")
    expect(page.locator("#keys-dialog")).to_be_visible()
    screenshot(page, "workspace-shortcuts")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#composer-body")).to_be_focused()
    page.keyboard.press("Escape")

    # Close and next: Cy is last in the list, so the one before it opens; Cy leaves the open list.
    page.get_by_role("button", name="Close and next").click()
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ben"]))
    expect(row(page, threads["cy"])).to_have_count(0)
    assert db.session.get(Journey, threads["cy"]) is not None
    db.session.expire_all()
    assert db.session.get(Journey, threads["cy"]).is_open is False
    wait_until(page, THREAD_READY)
    page.keyboard.press("Escape")
    page.keyboard.press("e")  # the same by key
    expect(page.locator("#journey")).to_have_attribute("data-journey-id", str(threads["ava"]))
    expect(row(page, threads["ben"])).to_have_count(0)
    assert page.evaluate("window.__sameDocument") == "yes"


def test_a_phone_shows_one_pane_at_a_time(threads, page, live_server):
    page.set_viewport_size({"width": 390, "height": 800})
    expect(page.locator("#journey-list")).to_be_visible()
    screenshot(page, "workspace-phone-list")
    open_row(page, threads["ben"])
    expect(page.locator("#journey-list")).to_be_hidden()
    expect(page.locator("#composer-body")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "workspace-phone-thread")
    page.get_by_role("link", name="← Inbox").click()
    expect(page.locator("#journey-list")).to_be_visible()
    expect(page.locator("#journey")).to_have_count(0)
