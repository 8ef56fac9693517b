"""Follow-ups that wait: a text scheduled for later meets the consent decision when it is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox.extensions import db
from inbox.models import Contact, Journey, Message
from inbox.texting import consent, outbox, wording
from tests import factories

# 10:00 in New York and 07:00 in Los Angeles, a Monday: day for the practice, night on the west coast.
MORNING_EAST = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
LATE_EVENING = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)  # 22:30 in New York


@pytest.fixture
def journey(practice):
    """Maria's journey; her own clock is the practice's (New York) unless a test moves her."""
    contact = factories.contact(practice, phone="+14155550123", time_zone="America/New_York")
    return factories.journey(contact)


def fresh(model, id_):
    """Re-read a row from the database."""
    db.session.expire_all()
    return db.session.get(model, id_)


def opt_in(journey: Journey) -> None:
    """Maria agreed on the phone."""
    contact = fresh(Contact, journey.contact_id)
    consent.record(contact, "opted_in", "phone_attestation", evidence=wording.PHONE_ATTESTATION)
    db.session.commit()


def schedule(journey: Journey, at: datetime, body: str = "Checking in about Tuesday") -> Message:
    """A staff follow-up scheduled for `at` (the workflow, without the API's "in the future" check)."""
    msg = outbox.compose(
        fresh(Journey, journey.id), body, kind="staff", send_at=at, now=at - timedelta(hours=12)
    )
    db.session.commit()
    return msg


def in_an_hour() -> str:
    """An ISO 8601 time with an offset, an hour from the real clock (the API checks against it)."""
    return (datetime.now(UTC) + timedelta(hours=1)).astimezone().isoformat()


def test_scheduled_text_is_not_sent_until_due_then_goes(journey, gateway, fake_twilio):
    opt_in(journey)
    msg = schedule(journey, MORNING_EAST)
    assert msg.status == "scheduled" and msg.not_before == MORNING_EAST

    assert outbox.drain(gateway, "w", now=MORNING_EAST - timedelta(minutes=1)) == 0
    assert fresh(Message, msg.id).status == "scheduled"
    assert fake_twilio.sent == []

    assert outbox.drain(gateway, "w", now=MORNING_EAST) == 1
    sent = fresh(Message, msg.id)
    assert sent.status == "sending" and sent.twilio_sid
    assert sent.consent_decision.startswith("opted in")
    assert [m["body"] for m in fake_twilio.sent] == ["Checking in about Tuesday"]


def test_scheduled_text_to_a_contact_not_opted_in_is_held_and_asks_for_consent(journey, gateway, fake_twilio):
    msg = schedule(journey, MORNING_EAST)
    assert outbox.drain(gateway, "w", now=MORNING_EAST - timedelta(seconds=1)) == 0
    assert fresh(Contact, journey.contact_id).consent_state == "unknown"  # nobody asked before it was due

    outbox.drain(gateway, "w", now=MORNING_EAST)
    held = fresh(Message, msg.id)
    assert held.status == "held_for_consent"
    assert held.consent_decision == "held: the opt-in request goes to the contact first"
    kinds = [m.kind for m in db.session.query(Message).filter_by(journey_id=journey.id).order_by(Message.id)]
    assert kinds == ["staff", "opt_in_request"]
    assert len(fake_twilio.sent) == 1  # the opt-in request, never the held text


@pytest.mark.parametrize(
    ("zone", "due", "until", "reason"),
    [
        (
            "America/New_York",
            LATE_EVENING,
            datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
            "waits until 8:00 AM for the practice and the contact (New York)",
        ),
        (
            "America/Los_Angeles",
            datetime(2026, 11, 23, 14, 0, tzinfo=UTC),  # 09:00 in New York, 06:00 in Los Angeles
            datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
            "waits until 8:00 AM for the contact (Los Angeles)",
        ),
    ],
    ids=["practice's night", "recipient's night"],
)
def test_scheduled_text_due_in_quiet_hours_waits_for_the_morning(
    journey, gateway, fake_twilio, zone, due, until, reason
):
    fresh(Contact, journey.contact_id).time_zone = zone
    db.session.commit()
    opt_in(journey)
    msg = schedule(journey, due)

    assert outbox.drain(gateway, "w", now=due) == 0
    waiting = fresh(Message, msg.id)
    assert (waiting.status, waiting.not_before, waiting.consent_decision) == ("queued", until, reason)
    assert outbox.drain(gateway, "w", now=until - timedelta(minutes=1)) == 0
    assert outbox.drain(gateway, "w", now=until) == 1
    assert fresh(Message, msg.id).status == "sending"


def test_scheduled_text_is_blocked_when_the_contact_opted_out_meanwhile(journey, gateway, fake_twilio):
    opt_in(journey)
    msg = schedule(journey, MORNING_EAST)
    # An opt-out that reached the row without the ledger's side effects (another process, a restore):
    # the decision at the due moment still stops it.
    fresh(Contact, journey.contact_id).consent_state = "opted_out"
    db.session.commit()

    assert outbox.drain(gateway, "w", now=MORNING_EAST) == 0
    blocked = fresh(Message, msg.id)
    assert blocked.status == "cancelled"
    assert blocked.error_reason.startswith("Cancelled when due, blocked:")
    assert fake_twilio.sent == []


def test_stop_cancels_scheduled_texts_like_held_ones(journey, inbound, gateway, fake_twilio):
    msg = schedule(journey, MORNING_EAST)
    held = outbox.compose(fresh(Journey, journey.id), "Held one", kind="staff")
    db.session.commit()
    assert inbound("STOP", from_="+14155550123").status_code == 200
    for row in (fresh(Message, msg.id), fresh(Message, held.id)):
        assert (row.status, row.error_reason) == ("cancelled", "The contact opted out.")
    assert outbox.drain(gateway, "w", now=MORNING_EAST) == 0
    assert fresh(Message, msg.id).status == "cancelled"


def test_staff_schedule_over_the_api_and_cancel_it(staff_client, journey, gateway, fake_twilio):
    opt_in(journey)
    send_at = in_an_hour()
    answer = staff_client.post(
        f"/api/journeys/{journey.id}/messages",
        json={"body": "Hi {{ contact.first_name }}", "send_at": send_at},
    )
    assert answer.status_code == 201, answer.get_json()
    message = answer.get_json()["message"]
    assert message["status"] == "scheduled"
    assert message["not_before"] == datetime.fromisoformat(send_at).astimezone(UTC).isoformat()
    assert message["flags"]["scheduled_for"]
    assert message["body"] == "Hi Maria"

    assert outbox.drain(gateway, "w") == 0  # the real clock: not due yet
    thread = staff_client.get(f"/api/journeys/{journey.id}/messages").get_json()["messages"]
    assert [(m["id"], m["status"]) for m in thread] == [(message["id"], "scheduled")]

    cancelled = staff_client.post(f"/api/messages/{message['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["message"]["status"] == "cancelled"
    assert outbox.drain(gateway, "w", now=datetime.now(UTC) + timedelta(hours=2)) == 0
    assert fake_twilio.sent == []


def test_a_scheduled_text_to_an_opted_out_contact_is_refused_at_once(staff_client, journey):
    consent.record(fresh(Contact, journey.contact_id), "opted_out", "staff_manual")
    db.session.commit()
    answer = staff_client.post(
        f"/api/journeys/{journey.id}/messages", json={"body": "Hello", "send_at": in_an_hour()}
    )
    assert answer.status_code == 409
    assert answer.get_json()["reason"].startswith("blocked")


def _iso(delta: timedelta) -> str:
    """A time this far from the real clock, with an offset."""
    return (datetime.now(UTC) + delta).isoformat()


@pytest.mark.parametrize(
    ("send_at", "words"),
    [
        (_iso(-timedelta(minutes=5)), "in the past"),
        (_iso(timedelta(days=366)), "within a year"),
        ((datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat(), "offset"),
        ("next tuesday", "ISO 8601"),
        (12345, "ISO 8601"),
        ("9999-12-31T23:59:59-14:00", "within a year"),
    ],
    ids=["past", "over a year", "no offset", "garbage", "a number", "overflow"],
)
def test_bad_send_at_is_422_and_stores_nothing(staff_client, journey, send_at, words):
    answer = staff_client.post(
        f"/api/journeys/{journey.id}/messages", json={"body": "Hello", "send_at": send_at}
    )
    assert answer.status_code == 422
    assert words in answer.get_json()["error"]
    assert db.session.query(Message).filter_by(journey_id=journey.id).count() == 0


def test_another_practices_journey_cannot_get_a_scheduled_text(staff_client):
    other = factories.practice("Elsewhere", number="+15005550001")
    foreign = factories.journey(factories.contact(other, phone="+14155550177"))
    answer = staff_client.post(
        f"/api/journeys/{foreign.id}/messages", json={"body": "Hello", "send_at": in_an_hour()}
    )
    assert answer.status_code == 404
    assert db.session.query(Message).filter_by(journey_id=foreign.id).count() == 0
