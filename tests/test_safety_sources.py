"""Every way a person's words reach us goes through the crisis detector (a text, the public form's reason,
what staff write down on a phone intake), the alert says why it fired, and the after-hours safety reply is
tracked like any text: Twilio's callback for it brings its SID and delivery status to the thread and the
alert."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from inbox.extensions import db, socketio
from inbox.models import Message, SafetyAlert
from inbox.presenters import safety_alert_json
from inbox.texting.wording import FORM_CRISIS_LINES
from inbox.vocabulary import RISK_LEVELS
from tests.conftest import signed_post
from tests.test_intake_forms import VALID, submit, token_of
from tests.test_safety import always_open, never_open

RISK_REASON = "my son told me last night he wants to kill himself, we need help soon"


def test_a_form_reason_with_crisis_words_raises_the_alert_and_shows_the_crisis_lines(client, practice):
    always_open(practice)
    answer = submit(client, practice, **{**VALID, "reason": RISK_REASON})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert FORM_CRISIS_LINES.split(",")[0] in page and "988" in page
    alert = db.session.scalar(select(SafetyAlert))
    assert alert is not None and alert.source == "web" and alert.acknowledged_at is None
    assert alert.message.kind == "web_request" and alert.message.flags["risk"] is True
    assert alert.reply_id is None and alert.replied_at is None  # a form has no thread to answer on


def test_a_plain_form_reason_raises_nothing_and_the_page_stays_calm(client, practice):
    answer = submit(client, practice, **VALID)
    assert answer.status_code == 200 and "988" not in answer.get_data(as_text=True)
    assert db.session.scalar(select(SafetyAlert)) is None


def test_the_callers_words_on_a_phone_intake_raise_the_alert(staff_client, practice):
    page = staff_client.get("/intake/phone")
    saved = staff_client.client.post(
        "/intake/phone",
        data={
            **VALID,
            "reason": "caller says her husband hits her and she is scared to go home",
            "attestation": "y",
            "csrf_token": token_of(page),
        },
    )
    assert saved.status_code == 302
    alert = db.session.scalar(select(SafetyAlert))
    assert alert is not None and alert.source == "phone" and alert.category == "abuse"
    assert alert.message.kind == "activity"


def test_an_alert_says_why_it_fired_without_the_persons_words(inbound, practice):
    always_open(practice)
    inbound("i keep thinking about ending it all tonight", from_="+14155550142")
    alert = db.session.scalar(select(SafetyAlert))
    why = safety_alert_json(practice, alert)["why"]
    assert why["category"] == "suicide" and why["level"] in RISK_LEVELS and why["level_label"]
    assert why["cue"] and why["source"] == "sms"
    # The cue is the rule's own fixed description, never a slice of the text.
    assert "tonight" not in why["cue"] and "ending it all" not in why["cue"]
    practice.ephi_in_popups = False
    assert "why" not in safety_alert_json(practice, alert)


def _reply_callback_url(answer) -> str:
    """The status callback URL the webhook's TwiML gives Twilio for its reply."""
    match = re.search(r'<Message action="([^"]+)" method="POST">', answer.get_data(as_text=True))
    assert match, answer.get_data(as_text=True)
    return match.group(1).replace("&amp;", "&")


def test_the_safety_reply_is_tracked_and_its_delivery_reaches_the_alert(
    app, app_env, client, inbound, practice, staff_client
):
    never_open(practice)
    answer = inbound("i want to die", from_="+14155550142")
    url = _reply_callback_url(answer)
    alert = db.session.scalar(select(SafetyAlert))
    assert alert.reply is not None and alert.reply.flags["safety_reply"] is True
    assert url.endswith(f"/twilio/status?m={alert.reply.uid}")
    assert safety_alert_json(practice, alert)["reply"]["status"] == "sent"

    sock = socketio.test_client(app, flask_test_client=staff_client.client)
    sid = "SM" + uuid.uuid4().hex
    path = url.split("inbox.example.test", 1)[1]
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert signed_post(client, path, params, app_env["TWILIO_AUTH_TOKEN"], url=url).status_code == 204
    db.session.expire_all()
    reply = db.session.get(Message, alert.reply_id)
    assert (reply.twilio_sid, reply.status, reply.error_code) == (sid, "undelivered", 30003)
    shown = safety_alert_json(practice, db.session.get(SafetyAlert, alert.id))["reply"]
    assert shown["status"] == "undelivered" and shown["error"]
    [pushed] = [e["args"][0] for e in sock.get_received() if e["name"] == "safety.updated"]
    assert pushed["reply"]["status"] == "undelivered" and pushed["journey_id"] == alert.journey_id
    sock.disconnect()


def test_a_keyword_reply_is_tracked_too(inbound, practice):
    answer = inbound("HELP", from_="+14155550142")
    url = _reply_callback_url(answer)
    [reply] = db.session.scalars(select(Message).where(Message.kind == "keyword_reply"))
    assert url.endswith(f"m={reply.uid}")
