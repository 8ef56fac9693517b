"""Web Push (issue 22): a safety alert or a mention reaches staff browsers with the tab closed, through a
local push service that checks the VAPID signature and really decrypts each push (tests/push_endpoint.py).
Subscriptions belong to one staff member of one practice; bad ones are a 400; deactivation removes them."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from inbox import create_app
from inbox.crypto import vapid_public_key
from inbox.extensions import db
from inbox.models import AuditEvent, Journey, PushDelivery, PushNotice, PushSubscription, utcnow
from inbox.notify import webpush
from inbox.notify.subscriptions import device_label
from tests import factories
from tests.conftest import StaffClient
from tests.push_endpoint import Device, PushEndpoint, b64url

RISK_TEXT = "I want to kill myself tonight, I have the pills ready"
SENDER = "+14155550123"


@pytest.fixture
def push_service(app):
    """The local push service, checking pushes against this app's VAPID public key."""
    with PushEndpoint(app.config["INBOX_VAPID_PUBLIC_KEY"]) as service:
        yield service


@pytest.fixture
def other_practice(app):
    """A second practice on the same deployment, with a staff member of its own."""
    practice = factories.practice(name="Elsewhere Counseling", number="+15005550009")
    return practice, factories.user(practice, email="eli@elsewhere.example", first_name="Eli")


def client_of(app, user) -> StaffClient:
    """A logged-in browser of `user`."""
    browser = StaffClient(app.test_client())
    browser.login(user.email)
    return browser


def subscribe(browser: StaffClient, device: Device, user_agent: str = "") -> dict:
    """Post the device's subscription as the page does; the answer's JSON."""
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = browser.post("/api/push/subscriptions", json=device.subscription(), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def unsubscribe(browser: StaffClient, **body):
    """DELETE /api/push/subscriptions with the CSRF header, as the page does."""
    return browser._send("delete", "/api/push/subscriptions", body)


def deliver() -> int:
    """One worker pass over the push queue."""
    return webpush.drain("test-worker")


def mention(practice, user) -> None:
    """A note mentioning `user`, as notes.add_note raises it (its push notice committed)."""
    journey = factories.journey(factories.contact(practice))
    webpush.notify_mention(factories.texted(journey, "x", direction="note", kind="note"), user)
    db.session.commit()


def subscription_count(**where) -> int:
    """How many subscriptions are stored (matching the given columns)."""
    query = select(func.count(PushSubscription.id))
    for name, value in where.items():
        query = query.where(getattr(PushSubscription, name) == value)
    return db.session.scalar(query)


# -- delivery -----------------------------------------------------------------------------------


def test_a_safety_alert_reaches_every_device_of_the_practices_staff_without_ephi(
    app, staff_client, staff, admin, practice, other_practice, push_service, inbound
):
    laptop, phone, admins = push_service.device(), push_service.device(), push_service.device()
    elsewhere = push_service.device()
    subscribe(staff_client, laptop)
    subscribe(staff_client, phone)
    subscribe(client_of(app, admin), admins)
    subscribe(client_of(app, other_practice[1]), elsewhere)
    factories.contact(practice, phone=SENDER, first_name="Rosalind", last_name="Quintero")

    assert inbound(RISK_TEXT, from_=SENDER).status_code == 200
    assert push_service.pushes == []  # the webhook answered without waiting on any push service
    assert deliver() == 3

    journey_id = db.session.scalar(select(Journey.id))
    for device in (laptop, phone, admins):
        [push] = push_service.to(device)
        assert push.payload == {
            "kind": "safety",
            "title": "Safety alert",
            "body": "A message needs attention now. Open Intake Inbox.",
            "url": f"/journeys/{journey_id}",
            "tag": f"safety-{journey_id}",
        }
        assert push.headers["urgency"] == "high" and push.headers["topic"] == f"safety-{journey_id}"
        # Nothing of the person or their words, even encrypted.
        words = repr(push.payload).lower()
        for secret in ("rosalind", "quintero", "5550123", "kill", "pills", "tonight"):
            assert secret not in words
    assert push_service.to(elsewhere) == []  # another practice's staff hear nothing
    assert push_service.problems == []
    assert deliver() == 0  # each push once
    sub = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == laptop.endpoint))
    assert sub.last_success_at is not None and sub.failures == 0


def test_a_mention_reaches_only_the_mentioned_persons_devices(
    app, staff_client, staff, admin, practice, push_service
):
    mine, theirs = push_service.device(), push_service.device()
    subscribe(staff_client, mine)
    subscribe(client_of(app, admin), theirs)
    journey = factories.journey(factories.contact(practice))

    answer = staff_client.post(
        f"/api/journeys/{journey.id}/notes", json={"body": "Can you call her back?", "mentions": [admin.id]}
    )
    assert answer.status_code == 201
    assert deliver() == 1

    [push] = push_service.to(theirs)
    note_id = answer.get_json()["message"]["id"]
    assert push.payload == {
        "kind": "mention",
        "title": "You were mentioned",
        "body": "A colleague mentioned you in a note. Open Intake Inbox.",
        "url": f"/journeys/{journey.id}",
        "tag": f"mention-{note_id}",
    }
    assert push.headers["urgency"] == "normal"
    assert push_service.to(mine) == []  # the author is not mentioned


def test_a_gone_browser_is_forgotten(app, staff_client, staff, practice, push_service):
    gone, kept = push_service.device(answer=410), push_service.device()
    subscribe(staff_client, gone)
    subscribe(staff_client, kept)
    mention(practice, staff)

    assert deliver() == 1
    db.session.expire_all()
    assert subscription_count(endpoint=gone.endpoint) == 0
    assert subscription_count(endpoint=kept.endpoint) == 1
    assert db.session.scalar(select(func.count(PushDelivery.id))) == 1  # the gone one's went with it
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.detail["reason"].as_string() == "gone"))
    assert event.detail["host"] == "127.0.0.1" and gone.token not in str(event.detail)


def test_a_failing_push_service_is_retried_with_backoff_then_recorded(
    app, staff_client, staff, practice, push_service
):
    flaky = push_service.device(answer=503)
    subscribe(staff_client, flaky)
    mention(practice, staff)

    now = utcnow()
    waits = []
    for _ in range(webpush.MAX_ATTEMPTS):
        assert webpush.drain("w", now=now) == 0
        delivery = db.session.scalar(select(PushDelivery))
        db.session.refresh(delivery)
        assert delivery.error == "HTTP 503"
        waits.append(round((delivery.due_at - now).total_seconds() / 10) * 10)
        now = delivery.due_at + timedelta(seconds=1)
    assert delivery.status == "failed" and delivery.attempts == webpush.MAX_ATTEMPTS
    assert waits[:-1] == [10, 20, 40, 80]  # doubling backoff, then recorded as failed
    assert len(push_service.pushes) == webpush.MAX_ATTEMPTS
    assert db.session.scalar(select(PushSubscription.failures)) == 1
    assert webpush.drain("w", now=now + timedelta(hours=1)) == 0 and len(push_service.pushes) == 5


def test_retry_after_from_the_push_service_is_respected(app, staff_client, staff, practice, push_service):
    busy = push_service.device(answer=429)
    busy.retry_after = "120"
    subscribe(staff_client, busy)
    mention(practice, staff)
    before = utcnow()
    deliver()
    delivery = db.session.scalar(select(PushDelivery))
    assert delivery.status == "pending" and delivery.due_at >= before + timedelta(seconds=119)


def test_a_worker_that_dies_mid_send_neither_loses_nor_repeats_a_push(
    app, staff_client, staff, practice, push_service, inbound
):
    first, second = push_service.device(), push_service.device()
    subscribe(staff_client, first)
    subscribe(staff_client, second)
    factories.contact(practice, phone=SENDER)
    inbound(RISK_TEXT, from_=SENDER)

    # A worker fans the alert out, claims the first delivery and dies before the push service answers.
    now = utcnow()
    webpush.fan_out(now)
    doomed = db.session.scalar(select(PushDelivery.id).order_by(PushDelivery.id))
    db.session.execute(
        update(PushDelivery)
        .where(PushDelivery.id == doomed)
        .values(status="sending", lease_until=now + webpush.LEASE, attempts=1)
    )
    db.session.commit()

    # A restarted worker (a new app, as a new process would build) sends the other one at once, and the
    # dead worker's only when its lease has run out: never both workers at the same time.
    restarted = create_app({"TESTING": True})
    with restarted.app_context():
        assert webpush.drain("restarted", now=now) == 1
        assert webpush.drain("restarted", now=now + timedelta(seconds=1)) == 0
        assert webpush.drain("restarted", now=now + webpush.LEASE + timedelta(seconds=1)) == 1
        for _ in range(3):
            assert webpush.drain("restarted", now=now + timedelta(minutes=10)) == 0
        db.session.remove()
    assert len(push_service.to(first)) == 1 and len(push_service.to(second)) == 1
    assert db.session.scalar(select(func.count(PushNotice.id))) == 1


def test_a_push_that_keeps_killing_its_worker_is_recorded_as_failed(
    app, staff_client, staff, practice, push_service
):
    subscribe(staff_client, push_service.device())
    mention(practice, staff)
    webpush.fan_out(utcnow())
    db.session.execute(
        update(PushDelivery).values(
            status="sending", lease_until=utcnow() - timedelta(seconds=1), attempts=webpush.MAX_ATTEMPTS
        )
    )
    db.session.commit()
    assert deliver() == 0 and push_service.pushes == []
    delivery = db.session.scalar(select(PushDelivery))
    db.session.refresh(delivery)
    assert (delivery.status, delivery.error) == ("failed", "worker died")


def test_an_unexpected_error_while_sending_is_retried_not_lost(
    app, staff_client, staff, practice, push_service, monkeypatch
):
    subscribe(staff_client, push_service.device())
    mention(practice, staff)
    monkeypatch.setattr(webpush, "webpush", lambda **_kw: 1 / 0)
    assert deliver() == 0
    delivery = db.session.scalar(select(PushDelivery))
    assert (delivery.status, delivery.error) == ("pending", "ZeroDivisionError")
    monkeypatch.undo()
    assert webpush.drain("w", now=delivery.due_at) == 1


def test_old_deliveries_are_purged_with_their_notices(app, staff_client, staff, practice, push_service):
    subscribe(staff_client, push_service.device())
    mention(practice, staff)
    deliver()
    assert webpush.purge(utcnow() + timedelta(days=29)) == 0
    assert webpush.purge(utcnow() + timedelta(days=31)) == 1
    assert db.session.scalar(select(func.count(PushDelivery.id))) == 0


# -- subscriptions --------------------------------------------------------------------------------


def test_deactivating_a_person_removes_their_subscriptions_at_once(
    app, admin_client, staff_client, staff, admin, practice, push_service, inbound
):
    theirs, admins = push_service.device(), push_service.device()
    subscribe(staff_client, theirs)
    subscribe(admin_client, admins)
    assert admin_client.post(f"/admin/staff/{staff.id}", data={"action": "deactivate"}).status_code == 302
    db.session.expire_all()
    assert subscription_count(user_id=staff.id) == 0
    assert subscription_count(user_id=admin.id) == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "push.unsubscribe"))
    assert event.target_id == staff.id and event.detail == {"count": 1, "reason": "deactivated"}

    factories.contact(practice, phone=SENDER)
    inbound(RISK_TEXT, from_=SENDER)
    assert deliver() == 1
    assert push_service.to(theirs) == [] and len(push_service.to(admins)) == 1


def test_subscribing_stores_the_device_and_audits_only_the_host(staff_client, staff, push_service):
    device = push_service.device()
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    answer = subscribe(staff_client, device, chrome)
    assert answer["subscription"]["device"] == "Chrome on Windows"
    subscribe(staff_client, device, chrome)  # the page posts it again on each visit: still one row
    row = db.session.scalar(select(PushSubscription))
    assert subscription_count() == 1
    assert (row.user_id, row.practice_id, row.p256dh, row.auth) == (
        staff.id,
        staff.practice_id,
        device.p256dh,
        b64url(device.auth),
    )
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "push.subscribe")).all()
    assert [e.detail for e in events] == [{"host": "127.0.0.1", "device": "Chrome on Windows"}] * 2
    assert device.token not in str([e.detail for e in events])


def test_a_shared_browser_becomes_the_next_persons(app, staff_client, staff, admin, push_service):
    device = push_service.device()
    subscribe(staff_client, device)
    subscribe(client_of(app, admin), device)
    assert subscription_count(user_id=staff.id) == 0 and subscription_count(user_id=admin.id) == 1


def test_turning_alerts_off_removes_only_ones_own_subscription(
    app, staff_client, staff, admin, other_practice, push_service
):
    mine, colleagues, elsewhere = push_service.device(), push_service.device(), push_service.device()
    subscribe(staff_client, mine)
    colleague_browser = client_of(app, admin)
    colleagues_id = subscribe(colleague_browser, colleagues)["subscription"]["id"]
    elsewhere_id = subscribe(client_of(app, other_practice[1]), elsewhere)["subscription"]["id"]

    for body in (
        {"endpoint": colleagues.endpoint},
        {"endpoint": elsewhere.endpoint},
        {"id": colleagues_id},
        {"id": elsewhere_id},
    ):
        assert unsubscribe(staff_client, **body).status_code == 404
    assert subscription_count() == 3
    assert unsubscribe(staff_client, endpoint=mine.endpoint).status_code == 204
    assert unsubscribe(colleague_browser, id=colleagues_id).status_code == 204
    assert subscription_count() == 1 and subscription_count(id=elsewhere_id) == 1
    assert unsubscribe(staff_client).status_code == 400


def _with(subscription: dict, path: str, value) -> dict:
    """The subscription with one field (e.g. "keys.auth") replaced, or removed when value is ...."""
    data = {**subscription, "keys": dict(subscription["keys"])}
    target, name = (data["keys"], path[5:]) if path.startswith("keys.") else (data, path)
    if value is ...:
        target.pop(name)
    else:
        target[name] = value
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endpoint", ...),
        ("endpoint", 42),
        ("endpoint", ""),
        ("endpoint", "ftp://127.0.0.1/push/x"),
        ("endpoint", "http://push.example.org/x"),  # plain http off loopback
        ("endpoint", "https://evil.example.org/x"),  # not a push service: the worker would POST there
        ("endpoint", "https://user:pw@fcm.googleapis.com/fcm/send/x"),
        ("endpoint", "https://fcm.googleapis.com:notaport/x"),
        ("endpoint", "https://fcm.googleapis.com/" + "x" * 2000),
        ("keys", ...),
        ("keys", "p256dh,auth"),
        ("keys.p256dh", ...),
        ("keys.p256dh", 12),
        ("keys.p256dh", "not base64url!"),
        ("keys.p256dh", b64url(b"\x04" + b"\x01" * 32)),  # too short
        ("keys.p256dh", b64url(b"\x04" + b"\x01" * 64)),  # 65 bytes, but not a point on P-256
        ("keys.auth", ...),
        ("keys.auth", b64url(b"a" * 15)),
        ("keys.auth", "a"),
    ],
)
def test_a_malformed_subscription_is_a_400_naming_the_field(staff_client, push_service, field, value):
    data = _with(push_service.device().subscription(), field, value)
    response = staff_client.post("/api/push/subscriptions", json=data)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert subscription_count() == 0


@pytest.mark.parametrize("body", [[1, 2], "text", None])
def test_a_subscription_that_is_not_an_object_is_a_400(staff_client, body):
    response = staff_client.post("/api/push/subscriptions", json=body)
    assert response.status_code == 400 and subscription_count() == 0


def test_a_real_push_service_endpoint_is_accepted(staff_client, push_service):
    data = push_service.device().subscription()
    data["endpoint"] = "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b"
    assert staff_client.post("/api/push/subscriptions", json=data).status_code == 201


def test_production_refuses_a_loopback_http_endpoint(app, staff_client, push_service):
    app.config["INBOX_ENV"] = "production"
    response = staff_client.post("/api/push/subscriptions", json=push_service.device().subscription())
    assert response.status_code == 400 and response.get_json()["field"] == "endpoint"


def test_subscribing_needs_a_login_and_the_csrf_token(app, client, staff_client, push_service):
    device = push_service.device()
    assert client.post("/api/push/subscriptions", json=device.subscription()).status_code in (400, 401)
    assert client.get("/api/push/key").status_code == 401
    staff_client.csrf = None
    assert staff_client.post("/api/push/subscriptions", json=device.subscription()).status_code == 400
    assert subscription_count() == 0


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5", "A browser on an unknown system"),
    ],
)
def test_the_device_label_names_only_browser_and_system(agent, label):
    assert device_label(agent) == label


# -- keys and the service worker --------------------------------------------------------------------


def test_the_public_key_is_the_signing_keys(app, staff_client):
    key = staff_client.get("/api/push/key").get_json()["key"]
    assert key == vapid_public_key(app.config["INBOX_VAPID_PRIVATE_KEY"])
    assert len(key) == 87  # 65 bytes, base64url without padding


def test_development_generates_the_vapid_key_into_instance_with_mode_0600(app_env, monkeypatch):
    monkeypatch.delenv("INBOX_VAPID_PRIVATE_KEY", raising=False)
    first = create_app()
    path = os.path.join(app_env["INBOX_INSTANCE_DIR"], "vapid_private_key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.config["INBOX_VAPID_SUBJECT"].startswith("mailto:")
    # A second start reads the same key: browsers subscribed with it keep receiving pushes.
    assert create_app().config["INBOX_VAPID_PUBLIC_KEY"] == first.config["INBOX_VAPID_PUBLIC_KEY"]


def test_a_malformed_vapid_key_stops_the_app(app_env, monkeypatch):
    from inbox.crypto import KeyConfigError

    monkeypatch.setenv("INBOX_VAPID_PRIVATE_KEY", "not-a-key")
    with pytest.raises(KeyConfigError, match="INBOX_VAPID_PRIVATE_KEY"):
        create_app()


def test_the_service_worker_is_served_from_the_root_without_login(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response.headers["Cache-Control"]
    source = response.get_data(as_text=True)
    assert 'addEventListener("push"' in source and 'addEventListener("notificationclick"' in source
    assert "requireInteraction: safety" in source


def test_the_alerts_page_lists_ones_devices(staff_client, push_service):
    subscribe(staff_client, push_service.device(), "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0")
    page = staff_client.get("/account/alerts").get_data(as_text=True)
    assert "Turn on alerts on this device" in page and "Firefox on Linux" in page
    assert "js/push.js" in page
