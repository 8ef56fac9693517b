"""Browser fixtures for the end-to-end tests: Debian's Chromium (never a downloaded browser), logged-in
tabs, screenshots under test-artifacts/ for people to look at, and waits that respect the strict CSP."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests import factories

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NUMBER = "+15005550006"
TIMEOUT = 15_000  # ms: the machine is small and shared


@pytest.fixture
def browser():
    """Headless Chromium from Debian's package."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
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


def screenshot(tab, name: str) -> None:
    """Keep a picture of the page as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_journey(tab, live_server, journey_id: int) -> None:
    """Go to a journey page and wait until its thread is loaded and its room joined."""
    tab.goto(f"{live_server.url}/journeys/{journey_id}")
    wait_until(tab, "window.__inboxReady === true && document.body.dataset.socket === 'connected'")
