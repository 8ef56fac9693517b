"""A person's first day, end to end in Debian's Chromium: a new hire gets in, requests and replies land
where the conversation is, staff stop what waits, and the pages fit a phone's width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.test_browser import (  # noqa: F401  (fixtures)
    NUMBER,
    TIMEOUT,
    admin_page,
    browser,
    logged_in_tab,
    open_journey,
    page,
    screenshot,
    wait_until,
)

pytest_plugins = ["tests.live_server"]
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
