"""Real Twilio webhook requests (tests/data/twilio_webhooks.json, each with its source), replayed signed
through the real routes: no shape answers 5xx, every text from a phone number is stored, and a shape
the inbox deliberately does not route is answered and counted (docs/routing.md)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import request
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from inbox.extensions import db
from inbox.models import Attachment, AuditEvent, Message
from tests import ephi_watch, factories
from tests.conftest import PUBLIC_URL
from tests.fake_twilio import sign

DATA = json.loads((Path(__file__).parent / "data" / "twilio_webhooks.json").read_text())
FIXTURES, VECTORS = DATA["fixtures"], DATA["signature_vectors"]
PATHS = {"inbound": "/twilio/messages", "status": "/twilio/status"}
# Twilio's documentation names the type without a charset; some proxies and SDK test vectors add one.
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"]
PRACTICE_NUMBER = "+15005550006"


def for_the_test_practice(fixture: dict, account_sid: str) -> list[tuple[str, str]]:
    """The published fields in their order, with the account's values replaced by the test practice's:
    AccountSid, and an incoming message's To number (any channel prefix kept)."""
    fields = []
    for key, value in parse_qsl(fixture["body"], keep_blank_values=True, strict_parsing=True):
        if key == "AccountSid":
            value = account_sid
        elif key == "To" and fixture["kind"] == "inbound":
            prefix = value.rpartition(":")[0]
            value = f"{prefix}:{PRACTICE_NUMBER}" if prefix else PRACTICE_NUMBER
        fields.append((key, value))
    return fields


def replay(client, fixture: dict, app_env: dict, content_type: str):
    """POST the fixture's form as Twilio would: its own body encoding, signed for our public URL."""
    fields = for_the_test_practice(fixture, app_env["TWILIO_ACCOUNT_SID"])
    form = dict(fields)
    ephi_watch.remember(form.get("Body"), form.get("From"))
    path = PATHS[fixture["kind"]]
    return client.post(
        path,
        data=urlencode(fields).encode(),
        content_type=content_type,
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, form, app_env["TWILIO_AUTH_TOKEN"])},
    )


def sid_of(fixture: dict) -> str:
    """The message's SID as the request names it (older requests: SmsMessageSid/SmsSid only)."""
    form = dict(parse_qsl(fixture["body"], keep_blank_values=True))
    return form.get("MessageSid") or form.get("SmsMessageSid") or form["SmsSid"]


def test_every_fixture_cites_its_source_and_every_shape_is_covered():
    assert all(f["source"].strip() and f["kind"] in PATHS for f in FIXTURES)
    fields = {key for f in FIXTURES for key, _ in parse_qsl(f["body"], keep_blank_values=True)}
    assert {
        "AddOns",
        "ReferralNumMedia",
        "FromCity",
        "ToCity",
        "NumSegments",
        "MessagingServiceSid",
    } <= fields
    assert {"SmsStatus", "ApiVersion", "MessageStatus", "ErrorCode", "MediaUrl1"} <= fields
    inbound = [dict(parse_qsl(f["body"], keep_blank_values=True)) for f in FIXTURES if f["kind"] == "inbound"]
    assert any("MessageSid" not in form for form in inbound)
    assert any(not form.get("Body") for form in inbound)
    assert any("MediaUrl0" in form and "MediaContentType0" not in form for form in inbound)
    assert any(form["From"].startswith("whatsapp:") for form in inbound)
    assert any(form["From"].isdigit() for form in inbound)


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["plain", "charset"])
@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f["kind"] == "inbound"], ids=lambda f: f["name"])
def test_a_real_incoming_message_is_stored_or_deliberately_answered(
    client, practice, app_env, fixture, content_type
):
    response = replay(client, fixture, app_env, content_type)
    expect = fixture["expect"]
    assert response.status_code == 200 and response.mimetype == "text/xml", response.data
    messages = db.session.scalars(select(Message)).all()
    if expect["stored"]:
        (msg,) = [m for m in messages if m.direction == "inbound"]
        assert (msg.twilio_sid, msg.body) == (sid_of(fixture), expect["body"])
        attachments = db.session.scalars(select(Attachment).where(Attachment.message_id == msg.id)).all()
        assert len(attachments) == expect["media"]
    else:
        assert messages == [] and b"<Message" not in response.data
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook.not_routed"))
        assert (event.detail["reason"], event.practice_id) == (expect["not_routed"], practice.id)


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["plain", "charset"])
@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f["kind"] == "status"], ids=lambda f: f["name"])
def test_a_real_status_callback_updates_its_text(client, practice, app_env, fixture, content_type):
    journey = factories.journey(factories.contact(practice))
    sent = factories.message(journey, "Your appointment is at 3", direction="outbound", status="sending")
    sent.twilio_sid = sid_of(fixture)
    db.session.commit()
    response = replay(client, fixture, app_env, content_type)
    assert response.status_code == 204, response.data
    db.session.expire_all()
    sent = db.session.get(Message, sent.id)
    assert (sent.status, sent.error_code) == (
        fixture["expect"]["status"],
        fixture["expect"].get("error_code"),
    )


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=["plain", "charset"])
@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_a_published_signature_validates_on_the_form_as_the_app_parses_it(app, vector, content_type):
    # The `signed` check validates request.form: the raw body as Twilio encodes it ('+' for spaces, JSON in
    # AddOns) must parse back to exactly what Twilio signed, charset or not.
    validator = RequestValidator(vector["auth_token"])
    with app.test_request_context(
        "/twilio/messages", method="POST", data=vector["body"].encode(), content_type=content_type
    ):
        assert validator.validate(vector["url"], request.form, vector["signature"])
        assert not validator.validate(vector["url"], request.form, "cN6s/bbbzahiBNHjFpssnkbSQSM=")
