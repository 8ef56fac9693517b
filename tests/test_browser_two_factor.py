"""Two-factor login in Debian's Chromium: a coordinator sets it up from the account page, logs in
with a code to a live inbox, and turns it off again, which takes the password and a current code; with
the practice's switch on, a login without it lands on the set-up page (and stays there) instead of
bouncing to the login form."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent
from tests import ephi_watch, factories
from tests.browser import NUMBER, TIMEOUT, screenshot, wait_until

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

LIVE = "window.__inboxReady === true && document.body.dataset.socket === 'connected'"


def new_tab(browser):
    """A fresh browser context (its own cookies) and a tab in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def password_step(tab, live_server, email: str) -> None:
    """Fill and send the login form."""
    tab.goto(live_server.url + "/login")
    tab.fill("#email", email)
    tab.fill("#password", factories.PASSWORD)
    tab.click("button[type=submit]")


def set_up_from_the_page(tab) -> tuple[str, list[str]]:
    """On the set-up page: read the key shown as text, prove a code computed from it, read the recovery
    codes. The code is the previous 30 s window's, so the login that follows may use the current one."""
    qr = tab.locator("img.totp-qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    wait_until(tab, "document.querySelector('img.totp-qr').naturalWidth > 0")  # the CSP let it render
    secret = tab.locator("#totp-secret").inner_text().replace(" ", "")
    screenshot(tab, "two-factor-setup")
    tab.fill("#code", pyotp.TOTP(secret).at(time.time() - 30))
    tab.click("form:has(#code) button[type=submit]")
    codes = tab.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    screenshot(tab, "two-factor-recovery-codes")
    shown = [c.strip() for c in codes.all_inner_texts()]
    ephi_watch.remember(secret, *shown)  # secrets: never in the server's log
    return secret, shown


def test_a_coordinator_enrols_then_logs_in_with_a_code_to_a_live_inbox(page, browser, live_server, staff):
    page.click(".topbar-user")
    page.click(".account-nav >> text=Two-factor login")
    expect(page.locator("h1")).to_have_text("Two-factor login")
    page.click("text=Set up two-factor login")
    secret, codes = set_up_from_the_page(page)
    assert len(set(codes)) == 10
    page.click("text=I saved my codes, continue")
    wait_until(page, LIVE)
    page.click(".logout-form button")
    expect(page.locator("h1")).to_have_text("Log in")

    password_step(page, live_server, staff.email)
    expect(page.locator("h1")).to_have_text("Enter your code")
    screenshot(page, "two-factor-code-step")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form:has(#code) button[type=submit]")
    wait_until(page, LIVE)
    live_server.inbound("Do you have Saturday openings?", from_="+14155550188", to=NUMBER)
    expect(page.locator(".toast").first).to_contain_text("Do you have Saturday openings?")
    expect(page.locator(".journey-row").first).to_contain_text("555")

    # Turning it off takes the password and a current code: the password alone is refused.
    page.click(".topbar-user")
    page.click(".account-nav >> text=Two-factor login")
    expect(page.locator("h1")).to_have_text("Two-factor login")
    page.fill("#disable-password", factories.PASSWORD)
    page.fill("#disable-code", "000000")
    page.click("text=Turn two-factor login off")
    expect(page.locator("#disable-code-error")).to_contain_text("That code is not right")
    expect(page.locator(".tag-open")).to_have_text("On")
    screenshot(page, "two-factor-off-refused")
    page.fill("#disable-password", factories.PASSWORD)
    page.fill("#disable-code", pyotp.TOTP(secret).at(time.time() + 30))  # newer than the login's code
    page.click("text=Turn two-factor login off")
    expect(page.locator(".flash")).to_have_text(
        "Two-factor login is off. Your password alone logs you in now."
    )
    expect(page.locator("text=Set up two-factor login")).to_be_visible()
    screenshot(page, "two-factor-off")
    page.click(".logout-form button")
    password_step(page, live_server, staff.email)
    wait_until(page, LIVE)  # no code asked any more


def test_with_two_factor_required_a_login_lands_on_set_up_not_the_login_form(
    admin_page, browser, live_server, staff
):
    admin_page.goto(live_server.url + "/admin/settings")
    admin_page.check("#require_two_factor")
    admin_page.click("form button[type=submit]:has-text('Save settings')")
    expect(admin_page.locator(".flash")).to_have_text("Settings saved.")
    saved = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.update")).one()
    assert saved.detail == {"fields": ["require_two_factor"], "require_two_factor": True}

    tab = new_tab(browser)
    password_step(tab, live_server, staff.email)
    expect(tab.locator(".banner")).to_contain_text("Your practice requires two-factor login")
    tab.wait_for_timeout(1500)  # no script sends it away meanwhile
    assert tab.url.endswith("/account/two-factor"), tab.url
    screenshot(tab, "two-factor-required")
    tab.goto(live_server.url + "/")  # the inbox is not open yet: back to the set-up
    assert tab.url.endswith("/account/two-factor"), tab.url
    tab.click("text=Set up two-factor login")
    tab.set_viewport_size({"width": 390, "height": 844})  # set up on the phone itself: it must fit
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(tab, "two-factor-setup-phone")
    set_up_from_the_page(tab)
    tab.click("text=I saved my codes, continue")
    wait_until(tab, LIVE)
    assert tab.url == live_server.url + "/"
    tab.context.close()
