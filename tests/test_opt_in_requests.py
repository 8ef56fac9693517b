"""The opt-in request is not sent three times in three minutes at 2:25 AM: staff confirm a second one within
a day, and one that staff or an automation cause inside quiet hours waits for the morning, while one the
person's own text or form causes answers them at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Contact, Message, User
from inbox.texting import automations, consent, outbox
from tests import factories
from tests.test_intake_forms import submit
from tests.test_outbox import drain_all

NEW_YORK = ZoneInfo("America/New_York")  # the practice's time zone; quiet hours 21:00-08:00 there
AT_2_25_AM = datetime(2026, 11, 24, 2, 25, tzinfo=NEW_YORK).astimezone(UTC)
AT_8_AM = datetime(2026, 11, 24, 8, 0, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def journey(practice):
    """Maria's new inquiry; nobody asked her about texts yet (a New York number: the practice's clock)."""
    return factories.journey(factories.contact(practice, phone="+12125550123"))


@pytest.fixture
def night_now(practice):
    """Quiet hours around the real clock's present, for paths that read the time themselves."""
    local = datetime.now(NEW_YORK)
    minutes = local.hour * 60 + local.minute
    practice.quiet_start, practice.quiet_end = (minutes - 60) % 1440, (minutes + 60) % 1440
    db.session.commit()


@pytest.fixture
def daytime(practice):
    """No quiet hours at all."""
    practice.quiet_start = practice.quiet_end = 0
    db.session.commit()


def requests_to(contact_id: int) -> list[Message]:
    """The contact's opt-in requests, oldest first."""
    db.session.expire_all()
    return db.session.scalars(
        select(Message)
        .where(Message.contact_id == contact_id, Message.kind == "opt_in_request")
        .order_by(Message.id)
    ).all()


def test_a_second_request_within_a_day_asks_staff_first(staff_client, journey, daytime):
    url = f"/api/journeys/{journey.id}/opt-in-request"
    first = staff_client.post(url)
    assert first.status_code == 201
    again = staff_client.post(url)
    assert again.status_code == 409
    answer = again.get_json()
    assert set(answer) == {"error", "last_sent_at"}
    sent_at = db.session.get(Contact, journey.contact_id).opt_in_requested_at
    assert datetime.fromisoformat(answer["last_sent_at"]) == sent_at
    assert len(requests_to(journey.contact_id)) == 1
    confirmed = staff_client.post(url, json={"force": True})
    assert confirmed.status_code == 201
    assert len(requests_to(journey.contact_id)) == 2


@pytest.mark.parametrize("body", [{}, {"force": False}, {"force": "yes"}, {"force": 1}])
def test_only_force_true_confirms_a_second_request(staff_client, journey, daytime, body):
    staff_client.post(f"/api/journeys/{journey.id}/opt-in-request")
    assert staff_client.post(f"/api/journeys/{journey.id}/opt-in-request", json=body).status_code == 409


def test_a_day_after_the_last_request_staff_may_send_another_without_confirming(
    staff_client, journey, daytime
):
    contact = db.session.get(Contact, journey.contact_id)
    consent.record(contact, "pending", "opt_in_request", evidence="opt-in request sent")
    contact.opt_in_requested_at = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    db.session.commit()
    assert staff_client.post(f"/api/journeys/{journey.id}/opt-in-request").status_code == 201


def test_the_automatic_request_counts_as_the_last_one(staff_client, journey, daytime):
    staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "When suits you?"})
    assert len(requests_to(journey.contact_id)) == 1  # the automatic one
    again = staff_client.post(f"/api/journeys/{journey.id}/opt-in-request")
    assert again.status_code == 409 and again.get_json()["last_sent_at"]


def test_staff_request_inside_quiet_hours_waits_for_the_morning(practice, journey, gateway, fake_twilio):
    staff = factories.user(practice)
    msg = outbox.request_opt_in(journey, actor=db.session.get(User, staff.id), now=AT_2_25_AM)
    db.session.commit()
    assert msg.status == "queued" and msg.not_before == AT_8_AM
    assert msg.consent_decision == "waits until 8:00 AM for the practice and the contact (New York)"
    assert outbox.drain(gateway, "w", now=AT_2_25_AM + timedelta(minutes=3)) == 0
    assert outbox.drain(gateway, "w", now=AT_8_AM) == 1
    assert "Reply YES" in fake_twilio.sent[0]["body"]


def test_the_api_says_until_when_a_staff_request_waits(staff_client, journey, night_now):
    answer = staff_client.post(f"/api/journeys/{journey.id}/opt-in-request")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["message"]["status"] == "queued" and body["message"]["not_before"]
    assert body["reason"].startswith("waits until ") and body["reason"].endswith(
        " for the practice and the contact (New York)"
    )


def test_a_staff_reply_at_night_holds_and_its_request_waits_too(practice, journey):
    reply = outbox.compose(journey, "Hi Maria, when suits you?", kind="staff", now=AT_2_25_AM)
    db.session.commit()
    assert reply.status == "held_for_consent"
    [request] = requests_to(journey.contact_id)
    assert request.status == "queued" and request.not_before == AT_8_AM


def test_an_automation_at_night_asks_for_consent_in_the_morning(practice, journey):
    automations.fire(journey, "followup", now=AT_2_25_AM)
    db.session.commit()
    [request] = requests_to(journey.contact_id)
    assert request.not_before == AT_8_AM


def test_a_person_texting_in_at_night_gets_the_request_at_once(
    inbound, practice, night_now, gateway, fake_twilio
):
    inbound("Hi, do you have evening slots?", from_="+14155550142")
    contact = factories.contact_by_phone("+14155550142")
    [request] = requests_to(contact.id)
    assert request.status == "queued" and request.not_before is None
    drain_all(gateway)
    assert [s["to"] for s in fake_twilio.sent if "Reply YES" in s["body"]] == ["+14155550142"]


def test_the_web_form_at_night_gets_the_request_at_once(client, practice, night_now):
    assert (
        submit(client, practice, first_name="Ana", last_name="Ruiz", phone="(415) 555-0143").status_code
        == 200
    )
    contact = factories.contact_by_phone("+14155550143")
    [request] = requests_to(contact.id)
    assert request.status == "queued" and request.not_before is None


def test_a_request_waiting_for_the_morning_is_dropped_once_they_opt_in(
    practice, journey, gateway, fake_twilio
):
    outbox.request_opt_in(journey, now=AT_2_25_AM)
    db.session.commit()
    consent.record(db.session.get(Contact, journey.contact_id), "opted_in", "sms_keyword", evidence="YES")
    db.session.commit()
    outbox.drain(gateway, "w", now=AT_8_AM)
    [request] = requests_to(journey.contact_id)
    assert request.status == "cancelled" and fake_twilio.sent == []
