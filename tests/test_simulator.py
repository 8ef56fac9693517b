"""The Twilio simulator drives the very same signed webhook, media and status paths."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from sqlalchemy import select

from inbox.dev.simulator import SimulatorGateway
from inbox.extensions import db
from inbox.models import Attachment, Journey, Message
from inbox.texting import consent, outbox
from tests import factories
from tests.conftest import StaffClient, running_app


@pytest.fixture
def sim_app(app_env, monkeypatch):
    """The app as `make run` starts it: no Twilio credentials, so simulator mode."""
    monkeypatch.delenv("TWILIO_ACCOUNT_SID")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.delenv("INBOX_MEDIA_HOSTS")
    yield from running_app()


@pytest.fixture
def sim_staff(sim_app):
    """A logged-in coordinator of the demo-like practice."""
    practice = factories.practice(number="+15005550006")
    user = factories.user(practice, email="dana@example.com")
    browser = StaffClient(sim_app.test_client())
    browser.login(user.email)
    return browser


def jpeg() -> bytes:
    """A small photo."""
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "navy").save(out, "JPEG")
    return out.getvalue()


def test_simulator_is_on_without_credentials_and_needs_login(sim_app):
    assert sim_app.config["INBOX_SIMULATOR"] is True
    assert sim_app.test_client().get("/simulator/").status_code == 302


def test_simulated_text_with_photo_arrives_through_the_signed_webhook(sim_app, sim_staff):
    page = sim_staff.get("/simulator/")
    assert page.status_code == 200
    response = sim_staff.post(
        "/simulator/send",
        data={
            "from": "(415) 555-0142",
            "to": "+15005550006",
            "body": "Here is my card",
            "photo": (io.BytesIO(jpeg()), "card.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data
    msg = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert msg.body == "Here is my card" and msg.twilio_sid.startswith("SM")
    att = db.session.scalar(select(Attachment))
    assert att.source_url.startswith(sim_app.config["INBOX_PUBLIC_URL"] + "/simulator/media/")
    # Hosted like Twilio hosts media: basic auth with the account's credentials, nothing without.
    path = att.source_url.removeprefix(sim_app.config["INBOX_PUBLIC_URL"])
    anonymous = sim_app.test_client()
    assert anonymous.get(path).status_code == 401
    gateway = SimulatorGateway(sim_app)
    user, password = gateway.media_auth
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    served = anonymous.get(path, headers=auth)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    thread = sim_staff.get("/simulator/thread?from=%2B14155550142&to=%2B15005550006").get_json()["messages"]
    assert [(m["direction"], m["body"], m["attachments"]) for m in thread] == [
        ("inbound", "Here is my card", 1)
    ]


def test_simulated_outbound_text_gets_signed_status_callbacks(sim_app, sim_staff):
    from inbox.models import Practice

    practice = db.session.scalar(select(Practice))
    contact = factories.contact(practice, phone="+14155550142")
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    journey = factories.journey(contact)
    msg = outbox.compose(db.session.get(Journey, journey.id), "See you Tuesday")
    db.session.commit()
    assert outbox.drain(SimulatorGateway(sim_app), "sim-worker") == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(Message, msg.id).status == "delivered":
            break
        time.sleep(0.1)
    assert db.session.get(Message, msg.id).status == "delivered"
    thread = sim_staff.get("/simulator/thread?from=%2B14155550142&to=%2B15005550006").get_json()["messages"]
    assert thread[-1]["body"] == "See you Tuesday"
