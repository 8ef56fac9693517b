"""First-day workflows without a browser: moving a text to the journey it belongs to, cancelling what
waits, form requests that arrive as news, and every read of patient data leaving an audit event."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEvent, Message
from tests import factories


def audits(action: str) -> int:
    """How many audit events of this action exist now."""
    db.session.expire_all()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


@pytest.fixture
def two_journeys(practice):
    """A guardian with two open journeys; the first holds the guardian's text."""
    guardian = factories.contact(practice, phone="+14155550123", first_name="Grace")
    first = factories.journey(guardian, stage="Child A")
    second = factories.journey(guardian, pathway="waitlist", stage="Child B")
    text = factories.message(first, "Noah's forms are done")
    db.session.commit()
    return first, second, text


def test_staff_move_a_text_to_the_other_journey_of_the_same_contact(staff_client, two_journeys):
    first, second, text = two_journeys
    answer = staff_client.post(f"/api/messages/{text.id}/move", json={"journey_id": second.id})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["message"]["journey_id"] == second.id
    db.session.expire_all()
    assert db.session.get(Message, text.id).journey_id == second.id
    lines = [
        m.body
        for m in db.session.scalars(
            select(Message).where(Message.direction == "activity").order_by(Message.id)
        )
    ]
    assert any("moved a text to Waitlist" in line for line in lines)
    assert any("moved a text here from Intake" in line for line in lines)
    assert audits("message.move") == 1
    second_thread = staff_client.get(f"/api/journeys/{second.id}/messages").get_json()["messages"]
    assert text.id in [m["id"] for m in second_thread]
    first_thread = staff_client.get(f"/api/journeys/{first.id}/messages").get_json()["messages"]
    assert text.id not in [m["id"] for m in first_thread]


def test_a_move_to_another_contacts_or_practices_journey_is_a_404(staff_client, two_journeys, practice):
    _first, _second, text = two_journeys
    stranger = factories.journey(factories.contact(practice, phone="+14155550999"))
    other_practice = factories.practice("Elsewhere", number="+15005550001")
    foreign = factories.journey(factories.contact(other_practice, phone="+14155550123"))
    for target in (stranger.id, foreign.id, text.journey_id, 10**6):
        answer = staff_client.post(f"/api/messages/{text.id}/move", json={"journey_id": target})
        assert answer.status_code == 404
    assert staff_client.post(f"/api/messages/{text.id}/move", json={"journey_id": "x"}).status_code == 400
    assert audits("message.move") == 0


def test_an_outbound_text_cannot_be_moved(staff_client, two_journeys):
    first, second, _text = two_journeys
    reply = factories.message(first, "See you Monday", direction="outbound")
    db.session.commit()
    assert (
        staff_client.post(f"/api/messages/{reply.id}/move", json={"journey_id": second.id}).status_code == 404
    )


@pytest.mark.parametrize("status", ["held_for_consent", "queued"])
def test_staff_cancel_a_waiting_text(staff_client, staff, two_journeys, status):
    first, _second, _text = two_journeys
    waiting = factories.message(first, "Welcome!", direction="outbound", status=status, kind="automated")
    db.session.commit()
    answer = staff_client.post(f"/api/messages/{waiting.id}/cancel")
    assert answer.status_code == 200
    body = answer.get_json()["message"]
    assert body["status"] == "cancelled"
    assert staff.display_name in body["error_reason"]
    db.session.expire_all()
    assert db.session.get(Message, waiting.id).status == "cancelled"
    assert audits("message.cancel") == 1


@pytest.mark.parametrize("status", ["sending", "sent", "delivered", "failed", "cancelled", "unconfirmed"])
def test_a_text_that_left_or_ended_cannot_be_cancelled(staff_client, two_journeys, status):
    first, _second, _text = two_journeys
    gone = factories.message(first, "See you", direction="outbound", status=status)
    db.session.commit()
    answer = staff_client.post(f"/api/messages/{gone.id}/cancel")
    assert answer.status_code == 409
    db.session.expire_all()
    assert db.session.get(Message, gone.id).status == status
    assert audits("message.cancel") == 0


def test_an_inbound_text_cannot_be_cancelled(staff_client, two_journeys):
    _first, _second, text = two_journeys
    assert staff_client.post(f"/api/messages/{text.id}/cancel").status_code == 409


def test_another_practices_text_cannot_be_cancelled(staff_client, practice):
    other = factories.practice("Elsewhere", number="+15005550001")
    journey = factories.journey(factories.contact(other, phone="+14155550123"))
    waiting = factories.message(journey, "Welcome!", direction="outbound", status="queued")
    db.session.commit()
    assert staff_client.post(f"/api/messages/{waiting.id}/cancel").status_code == 404
    db.session.expire_all()
    assert db.session.get(Message, waiting.id).status == "queued"


def test_every_api_read_of_patient_data_is_audited(staff_client, two_journeys):
    first, _second, _text = two_journeys
    reads = {
        "inbox.list": lambda: staff_client.get("/api/journeys"),
        "attachments.list": lambda: staff_client.get(f"/api/journeys/{first.id}/attachments"),
        "message.preview": lambda: staff_client.post(
            f"/api/journeys/{first.id}/preview", json={"body": "Hi {{ contact.first_name }}"}
        ),
        "journey.view": lambda: staff_client.get(f"/api/journeys/{first.id}"),
        "thread.view": lambda: staff_client.get(f"/api/journeys/{first.id}/messages"),
        "consent.view": lambda: staff_client.get(f"/api/contacts/{first.contact_id}/consent"),
    }
    for action, read in reads.items():
        before = audits(action)
        assert read().status_code == 200
        assert audits(action) == before + 1, action


def test_the_closed_filters_empty_state_says_what_belongs_there(staff_client):
    closed = staff_client.get("/?state=closed").get_data(as_text=True)
    assert "No closed journeys." in closed and "New texts will appear" not in closed
    assert "New texts will appear as they arrive" in staff_client.get("/").get_data(as_text=True)
