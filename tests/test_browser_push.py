"""Web Push in Debian's Chromium: a person turns on "Alerts on this device", closes the tab, a risk text
arrives, and the service worker shows a "Safety alert" that stays until acted on.

Headless Chromium cannot reach Google's push service, so where `pushManager.subscribe` fails the test
stores a subscription of its own whose endpoint is the local push service (tests/push_endpoint.py: it
checks the VAPID JWT and decrypts the push with the keys the test made), then hands the decrypted
payload to the service worker as the push service would, through the DevTools protocol
(`ServiceWorker.deliverPushMessage`)."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from inbox.extensions import db
from inbox.models import PushSubscription
from tests import factories
from tests.browser import NUMBER, screenshot, wait_until
from tests.push_endpoint import PushEndpoint

pytest_plugins = ["tests.live_server", "tests.browser"]
pytestmark = pytest.mark.browser

RISK_TEXT = "I want to kill myself tonight"
SENDER = "+14155550142"
NOTIFICATIONS = """navigator.serviceWorker.ready
  .then((registration) => registration.getNotifications())
  .then((shown) => shown.map((n) => ({
    title: n.title, body: n.body, tag: n.tag, requireInteraction: n.requireInteraction, data: n.data,
  })))"""
POST_SUBSCRIPTION = """async (subscription) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const answer = await fetch("/api/push/subscriptions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(subscription),
  });
  return answer.status;
}"""
POST_NOTE = """async ({ journey, mentions }) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const answer = await fetch(`/api/journeys/${journey}/notes`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ body: "Please call her back today", mentions }),
  });
  return answer.status;
}"""


def registration_id(cdp, origin: str, timeout: float = 10.0) -> str:
    """The service worker registration of `origin`, as the DevTools protocol names it."""
    found: dict[str, str] = {}

    def updated(event):
        for registration in event["registrations"]:
            if registration["scopeURL"].startswith(origin) and not registration["isDeleted"]:
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + timeout
    while "id" not in found:
        assert time.monotonic() < deadline, "no service worker registration reported"
        cdp.send("Runtime.evaluate", {"expression": "1"})  # lets the event loop deliver the events
        time.sleep(0.05)
    return found["id"]


def test_a_safety_alert_reaches_a_closed_tab_as_a_persistent_notification(
    browser, page, live_server, practice, staff
):
    origin = live_server.url
    context = page.context
    context.grant_permissions(["notifications"], origin=origin)
    factories.contact(practice, phone=SENDER)

    # The person turns alerts on from their account page.
    page.goto(f"{origin}/account/alerts")
    wait_until(page, "window.__pushReady === true")
    expect(page.locator("#push-status")).to_have_text("Alerts are off for this device.")
    screenshot(page, "push-alerts-off")
    page.click("#push-on")
    status = page.locator("#push-status")
    wait_until(
        page,
        "document.getElementById('push-status').textContent.includes('could not')"
        " || (window.__pushReady === true && document.getElementById('push-off').hidden === false)",
    )
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.scriptURL)") == f"{origin}/sw.js"
    with PushEndpoint(live_server_public_key(page)) as push_service:
        if "could not" in (status.text_content() or ""):
            # No push service in reach of headless Chromium: the page said so in words. This browser's
            # subscription is then the test's own, on the local push service.
            expect(page.locator("#push-on")).to_be_visible()  # still off, and it can be tried again
            screenshot(page, "push-alerts-no-push-service")
            device = push_service.device()
            assert page.evaluate(POST_SUBSCRIPTION, device.subscription()) == 201
            page.reload()
            wait_until(page, "window.__pushReady === true")
            real = False
        else:
            real = True  # a real subscription on a reachable push service: nothing to stand in for
        db.session.expire_all()
        assert db.session.query(PushSubscription).filter_by(user_id=staff.id).count() == 1
        expect(page.locator("#push-devices li")).to_have_count(1)
        expect(page.locator("#push-devices li").first).to_contain_text("Chrome on Linux")
        screenshot(page, "push-alerts-on")
        page.close()  # no Intake Inbox tab is open any more

        live_server.inbound(RISK_TEXT, from_=SENDER, to=NUMBER)
        if real:
            pytest.skip("pushManager.subscribe reached a real push service: its delivery is not ours to see")
        [push] = push_service.wait_for(1, timeout=20)  # the server's worker sent it, the service decrypted it
        assert push.payload["kind"] == "safety" and push.payload["title"] == "Safety alert"
        assert "kill" not in json.dumps(push.payload)

        # The push service hands the message to the browser: here, the DevTools protocol does.
        blank = context.new_page()
        cdp = context.new_cdp_session(blank)
        registration = registration_id(cdp, origin)
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registration, "data": json.dumps(push.payload)},
        )
        later = context.new_page()
        later.goto(f"{origin}/account/alerts")
        wait_until(later, "window.__pushReady === true")
        deadline = time.monotonic() + 10
        while not (shown := later.evaluate(NOTIFICATIONS)):
            assert time.monotonic() < deadline, "the service worker showed no notification"
            time.sleep(0.1)
        [notification] = shown
        assert notification["title"] == "Safety alert"
        assert notification["requireInteraction"] is True
        assert notification["tag"] == push.payload["tag"] and notification["tag"].startswith("safety-")
        assert notification["data"] == {"kind": "safety", "url": push.payload["url"]}
        assert "Open Intake Inbox" in notification["body"]
        screenshot(later, "push-alerts-after-alert")

        # A mention goes the same way, as an ordinary notification beside the alert.
        journey_id = int(push.payload["url"].rsplit("/", 1)[1])
        note = later.evaluate(POST_NOTE, {"journey": journey_id, "mentions": [staff.id]})
        assert note == 201
        mention = push_service.wait_for(2, timeout=20)[1]
        assert mention.payload["kind"] == "mention" and mention.payload["title"] == "You were mentioned"
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": origin,
                "registrationId": registration,
                "data": json.dumps(mention.payload),
            },
        )
        deadline = time.monotonic() + 10
        while len(shown := later.evaluate(NOTIFICATIONS)) < 2:
            assert time.monotonic() < deadline, "the service worker showed no mention"
            time.sleep(0.1)
        by_kind = {n["data"]["kind"]: n for n in shown}
        assert by_kind["mention"]["requireInteraction"] is False
        assert by_kind["safety"]["requireInteraction"] is True

        # The device can be removed from the list: the server forgets it, nothing more is sent to it.
        later.click("#push-devices button[data-remove]")
        expect(later.locator("#push-devices li")).to_have_text("None yet.")
        db.session.expire_all()
        assert db.session.query(PushSubscription).filter_by(user_id=staff.id).count() == 0


def live_server_public_key(page) -> str:
    """The VAPID public key the live server signs with, as the page reads it."""
    return page.evaluate("fetch('/api/push/key').then((r) => r.json()).then((d) => d.key)")
