"""Replies through the consent rules and the durable outbox, against the fake Twilio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.gateway.rest import TwilioGateway
from inbox.models import Contact, Journey, Message, PracticeNumber
from inbox.texting import consent, outbox, wording
from tests import factories
from tests.conftest import PUBLIC_URL, signed_post


@pytest.fixture
def journey(practice):
    """A new inquiry from Maria, consent unknown."""
    return factories.journey(factories.contact(practice, phone="+14155550123"))


def fresh(model, id_):
    """Re-read a row from the database."""
    db.session.expire_all()
    return db.session.get(model, id_)


@pytest.fixture
def daytime(practice):
    """No quiet hours, so that tests of what staff-caused texts do need not run between 08:00 and 21:00
    New York time (quiet hours have tests of their own, with a clock of their own)."""
    practice.quiet_start = practice.quiet_end = 0
    db.session.commit()


def drain_all(gateway, rounds: int = 10) -> int:
    """Run the worker until nothing is due (pacing is 0 in tests). A pass may send nothing and still
    unblock texts behind the ones it delayed or cancelled, so only an empty queue ends it."""
    sent = 0
    for _ in range(rounds):
        n = outbox.drain(gateway, "test-worker")
        sent += n
        due = outbox._due_ids(datetime.now(UTC), 1)
        db.session.commit()
        if not n and not due:
            break
    return sent


def test_reply_to_new_inquiry_is_held_and_one_opt_in_request_goes_out(
    staff_client, journey, gateway, fake_twilio, daytime
):
    first = staff_client.post(
        f"/api/journeys/{journey.id}/messages", json={"body": "Hi Maria, when suits you?"}
    )
    second = staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "We have Tuesday at 3."})
    assert first.status_code == second.status_code == 201
    assert first.get_json()["message"]["status"] == "held_for_consent"
    drain_all(gateway)
    assert len(fake_twilio.sent) == 1
    assert "Reply YES" in fake_twilio.sent[0]["body"]
    assert fake_twilio.sent[0]["to"] == "+14155550123"
    assert fake_twilio.sent[0]["status_callback"].startswith(PUBLIC_URL + "/twilio/status?m=")
    assert fresh(Contact, journey.contact_id).consent_state == "pending"


def test_yes_releases_held_messages_in_order(staff_client, inbound, journey, gateway, fake_twilio, daytime):
    for text in ("one", "two", "three"):
        staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": text})
    drain_all(gateway)
    inbound("YES", from_="+14155550123")
    drain_all(gateway)
    assert [s["body"] for s in fake_twilio.sent[1:]] == ["one", "two", "three"]
    drain_all(gateway)
    assert len(fake_twilio.sent) == 4  # nothing twice


def test_stop_blocks_the_next_reply_with_its_reason(staff_client, inbound, journey, gateway, fake_twilio):
    inbound("YES", from_="+14155550123")
    inbound("STOP", from_="+14155550123")
    response = staff_client.post(
        f"/api/journeys/{journey.id}/messages", json={"body": "Are you still there?"}
    )
    assert response.status_code == 409
    assert response.get_json()["reason"].startswith("blocked: opted out by text STOP on ")
    drain_all(gateway)
    assert fake_twilio.sent == []
    preview = staff_client.post(f"/api/journeys/{journey.id}/preview", json={"body": "hi"}).get_json()
    assert preview["decision"]["action"] == "block"


def test_start_reopens_the_channel(staff_client, inbound, journey, gateway, fake_twilio):
    inbound("STOP", from_="+14155550123")
    inbound("START", from_="+14155550123")
    response = staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "Welcome back"})
    assert response.get_json()["message"]["status"] == "queued"
    drain_all(gateway)
    assert [s["body"] for s in fake_twilio.sent] == ["Welcome back"]


def test_consent_implied_when_opt_in_is_not_required(staff_client, practice, journey, gateway, fake_twilio):
    practice.require_opt_in = False
    db.session.commit()
    response = staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "Hello"})
    assert response.get_json()["message"]["status"] == "queued"
    drain_all(gateway)
    assert [s["body"] for s in fake_twilio.sent] == ["Hello"]


def test_carrier_21610_marks_the_contact_opted_out(practice, journey, gateway, fake_twilio):
    practice.require_opt_in = False
    db.session.commit()
    fake_twilio.unsubscribed.add("+14155550123")
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    later = outbox.compose(fresh(Journey, journey.id), "Second")
    db.session.commit()
    drain_all(gateway)
    assert fresh(Message, msg.id).status == "failed"
    assert fresh(Message, msg.id).error_code == 21610
    assert fresh(Contact, journey.contact_id).consent_state == "opted_out"
    assert fresh(Message, later.id).status == "cancelled"
    assert fake_twilio.sent == []


def test_retryable_failure_is_retried_and_sent_once(practice, journey, gateway, fake_twilio):
    practice.require_opt_in = False
    db.session.commit()
    fake_twilio.fail_next(503)
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    outbox.drain(gateway, "w")
    row = fresh(Message, msg.id)
    assert row.status == "queued" and row.not_before is not None
    outbox.drain(gateway, "w", now=row.not_before + timedelta(seconds=1))
    assert fresh(Message, msg.id).status == "sending"
    assert len(fake_twilio.sent) == 1


def test_permanent_failure_is_visible_with_its_reason(practice, journey, gateway, fake_twilio):
    practice.require_opt_in = False
    db.session.commit()
    fake_twilio.fail_next(400, code=21614)
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    drain_all(gateway)
    row = fresh(Message, msg.id)
    assert (row.status, row.error_code) == ("failed", 21614)
    assert row.error_reason == "The number is not a mobile number that can receive texts."


def test_ambiguous_send_is_not_resent_and_a_late_callback_confirms_it(
    app, client, practice, journey, fake_twilio, app_env
):
    practice.require_opt_in = False
    db.session.commit()
    gateway = TwilioGateway(
        fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url, timeout=0.3
    )
    fake_twilio.drop_next_after_receipt(close=True)
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    drain_all(gateway)
    row = fresh(Message, msg.id)
    assert row.status == "unconfirmed"
    drain_all(gateway)
    assert len(fake_twilio.sent) == 1
    # Twilio did get it: its callback names our row, and the message catches up.
    sent = fake_twilio.sent[0]
    params = fake_twilio.status_callback_params(sent["sid"], "delivered")
    path = sent["status_callback"][len(PUBLIC_URL) :]
    assert (
        signed_post(
            client, path, params, app_env["TWILIO_AUTH_TOKEN"], url=sent["status_callback"]
        ).status_code
        == 204
    )
    row = fresh(Message, msg.id)
    assert (row.status, row.twilio_sid) == ("delivered", sent["sid"])


def test_worker_killed_between_claim_and_send_is_retried_once(practice, journey, gateway, fake_twilio):
    practice.require_opt_in = False
    db.session.commit()
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    now = datetime.now(UTC)
    assert outbox._claim(msg.id, "dead-worker", now)  # claimed, then the worker died
    db.session.commit()
    assert drain_all(gateway) == 0  # leased: nobody else touches it
    outbox.reap_expired_leases(now + outbox.LEASE + timedelta(seconds=1))
    drain_all(gateway)
    assert [s["body"] for s in fake_twilio.sent] == ["Hello"]


def test_worker_killed_after_the_request_left_is_unconfirmed_not_resent(
    practice, journey, gateway, fake_twilio
):
    practice.require_opt_in = False
    db.session.commit()
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    now = datetime.now(UTC)
    outbox._claim(msg.id, "dead-worker", now)
    row = fresh(Message, msg.id)
    row.handed_over_at = now  # it crossed the point of no return, then died
    db.session.commit()
    outbox.reap_expired_leases(now + outbox.LEASE + timedelta(seconds=1))
    drain_all(gateway)
    assert fresh(Message, msg.id).status == "unconfirmed"
    assert fake_twilio.sent == []


def test_sends_are_paced_per_number(app, practice, journey, gateway, fake_twilio):
    app.config["INBOX_SEND_INTERVAL"] = 1.0
    practice.require_opt_in = False
    db.session.commit()
    for text in ("a", "b", "c"):
        outbox.compose(fresh(Journey, journey.id), text)
    db.session.commit()
    now = datetime.now(UTC)
    assert outbox.drain(gateway, "w", now=now) == 1
    assert outbox.drain(gateway, "w", now=now + timedelta(milliseconds=500)) == 0
    assert outbox.drain(gateway, "w", now=now + timedelta(seconds=1)) == 1
    number = db.session.scalar(select(PracticeNumber))
    assert number.next_send_at is not None


def test_status_callbacks_never_move_backwards(client, practice, journey, gateway, fake_twilio, app_env):
    practice.require_opt_in = False
    db.session.commit()
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    drain_all(gateway)
    sid = fresh(Message, msg.id).twilio_sid
    token = app_env["TWILIO_AUTH_TOKEN"]
    for status in ("delivered", "sent", "queued"):
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": fake_twilio.account_sid}
        assert signed_post(client, "/twilio/status", params, token).status_code == 204
    assert fresh(Message, msg.id).status == "delivered"


def test_failed_status_callback_carries_a_plain_reason(
    client, practice, journey, gateway, fake_twilio, app_env
):
    practice.require_opt_in = False
    db.session.commit()
    msg = outbox.compose(fresh(Journey, journey.id), "Hello")
    db.session.commit()
    drain_all(gateway)
    sid = fresh(Message, msg.id).twilio_sid
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    signed_post(client, "/twilio/status", params, app_env["TWILIO_AUTH_TOKEN"])
    row = fresh(Message, msg.id)
    assert (row.status, row.error_code) == ("undelivered", 30003)
    assert row.error_reason == "The phone is switched off or out of coverage."


@pytest.mark.parametrize(
    "params", [{}, {"MessageSid": "SMx"}, {"MessageSid": "SMx", "MessageStatus": "sent", "ErrorCode": "abc"}]
)
def test_malformed_status_callbacks_are_400(client, practice, app_env, params):
    assert signed_post(client, "/twilio/status", params, app_env["TWILIO_AUTH_TOKEN"]).status_code == 400


# --- the decision itself -----------------------------------------------------------------------------


def test_automated_texts_wait_for_quiet_hours_to_end(practice, journey):
    practice.require_opt_in = False
    db.session.commit()
    contact = fresh(Contact, journey.contact_id)
    contact.time_zone = "America/New_York"  # the practice's clock is the contact's too
    late_evening = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)  # 22:30 in New York
    decision = consent.decide(contact, "automated", late_evening)
    assert decision.action == "delay"
    assert decision.not_before == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 New York
    assert consent.decide(contact, "staff", late_evening).action == "send"
    assert consent.decide(contact, "automated", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)).action == "send"


def test_delayed_automation_shows_when_it_will_go(practice, journey):
    practice.require_opt_in = False
    db.session.commit()
    fresh(Contact, journey.contact_id).time_zone = "America/New_York"
    late_evening = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    msg = outbox.compose(fresh(Journey, journey.id), "Reminder", kind="automated", now=late_evening)
    assert msg.status == "queued"
    assert msg.not_before == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert msg.consent_decision == "waits until 8:00 AM for the practice and the contact (New York)"


def test_keyword_replies_go_even_to_opted_out_contacts(practice, journey):
    contact = fresh(Contact, journey.contact_id)
    consent.record(contact, "opted_out", "sms_keyword", evidence="STOP")
    assert consent.decide(contact, "keyword_reply").action == "send"
    assert consent.decide(contact, "opt_in_request").action == "block"
    assert consent.decide(contact, "automated").action == "block"


def test_staff_opt_in_needs_the_attestation(staff_client, journey):
    url = f"/api/contacts/{journey.contact_id}/consent"
    refused = staff_client.post(url, json={"state": "opted_in"})
    assert refused.status_code == 422
    assert refused.get_json()["attestation"] == wording.PHONE_ATTESTATION
    accepted = staff_client.post(url, json={"state": "opted_in", "attestation": wording.PHONE_ATTESTATION})
    assert accepted.get_json()["consent"]["colour"] == "green"
    history = staff_client.get(url).get_json()["events"]
    assert history[0]["source"] == "phone_attestation" and history[0]["actor"] == "Dana Reyes"


def test_staff_can_always_record_an_opt_out(staff_client, journey):
    response = staff_client.post(f"/api/contacts/{journey.contact_id}/consent", json={"state": "opted_out"})
    badge = response.get_json()["consent"]
    assert badge["colour"] == "red" and badge["reason"].startswith("opted out by staff")


def test_resent_opt_in_request_updates_the_header(staff_client, journey, gateway, fake_twilio, daytime):
    staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "hello"})
    # The automatic request just went: a second one within the day needs staff to confirm it.
    again = staff_client.post(f"/api/journeys/{journey.id}/opt-in-request", json={"force": True})
    assert again.status_code == 201
    drain_all(gateway)
    assert sum("Reply YES" in s["body"] for s in fake_twilio.sent) == 2
    header = staff_client.get(f"/api/journeys/{journey.id}").get_json()["contact"]["consent"]
    assert header["colour"] == "amber" and header["opt_in_requested_at"]


# --- composer ------------------------------------------------------------------------------------------


def test_preview_fills_placeholders_and_counts_segments(staff_client, journey):
    body = "Hi {{ contact.first_name }}, this is {{ staff.first_name }} at {{ practice.name }}."
    result = staff_client.post(f"/api/journeys/{journey.id}/preview", json={"body": body}).get_json()
    assert result["body"] == "Hi Maria, this is Dana at Calm Harbor Therapy."
    assert result["segments"] == {"encoding": "GSM-7", "characters": 46, "count": 1}
    assert result["decision"]["action"] == "hold"
    assert result["decision"]["reason"] == "held: the opt-in request goes to the contact first"
    assert result["decision"]["not_before"] is None


def test_unknown_placeholder_is_an_error_not_a_blank(staff_client, journey):
    response = staff_client.post(
        f"/api/journeys/{journey.id}/preview", json={"body": "Hi {{ contact.nickname }}"}
    )
    assert response.status_code == 422
    assert "contact.nickname" in response.get_json()["error"]
    sent = staff_client.post(
        f"/api/journeys/{journey.id}/messages", json={"body": "Hi {{ contact.nickname }}"}
    )
    assert sent.status_code == 422


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("€" * 80, "GSM-7", 1),
        ("€" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),
        ("ñ" * 71, "GSM-7", 1),
        ("ç" * 71, "UCS-2", 2),
        ("🙂" * 35, "UCS-2", 1),
        ("🙂" * 36, "UCS-2", 2),
        ("", "GSM-7", 0),
    ],
)
def test_segment_counting(text, encoding, segments):
    from inbox.texting.templating import count_segments

    result = count_segments(text)
    assert (result.encoding, result.segments) == (encoding, segments)


def test_manual_template_is_sent_rendered(staff_client, journey, practice):
    templates = staff_client.get("/api/templates").get_json()["templates"]
    assert len(templates) == 2
    template = next(t for t in templates if "insurance" in t["name"].lower())
    response = staff_client.post(f"/api/journeys/{journey.id}/messages", json={"template_id": template["id"]})
    assert response.get_json()["message"]["body"].startswith("Hi Maria, could you reply with a photo")


def test_empty_and_oversized_replies_are_400(staff_client, journey):
    assert staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "  "}).status_code == 400
    assert (
        staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "x" * 1601}).status_code
        == 400
    )
    assert staff_client.post(f"/api/journeys/{journey.id}/messages", json={}).status_code == 400


def test_a_long_thread_opens_on_its_latest_messages(staff_client, practice, journey):
    from inbox.texting import queries as inbox_queries

    practice.require_opt_in = False
    db.session.commit()
    for i in range(12):
        outbox.compose(fresh(Journey, journey.id), f"text {i}")
    db.session.commit()
    page = inbox_queries.thread(fresh(Journey, journey.id), limit=5)
    assert [m.body for m in page] == [f"text {i}" for i in range(7, 12)]
    after = inbox_queries.thread(fresh(Journey, journey.id), after=page[0].id - 3, limit=2)
    assert [m.body for m in after] == ["text 5", "text 6"]


def test_replies_go_out_from_the_number_the_contact_texted(
    staff_client, inbound, practice, gateway, fake_twilio
):
    db.session.add(PracticeNumber(practice_id=practice.id, e164="+15005550010"))
    db.session.commit()
    inbound("YES", from_="+14155550123", to="+15005550010")
    inbound("Hi, it's Sam", from_="+14155550124", to="+15005550006")
    for contact_phone in ("+14155550123", "+14155550124"):
        contact = factories.contact_by_phone(contact_phone)
        journey = db.session.scalars(select(Journey).where(Journey.contact_id == contact.id)).one()
        consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
        db.session.commit()
        assert (
            staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "Thanks!"}).status_code
            == 201
        )
    drain_all(gateway)
    replies = {s["to"]: s["from_"] for s in fake_twilio.sent if s["body"] == "Thanks!"}
    assert replies == {"+14155550123": "+15005550010", "+14155550124": "+15005550006"}
