"""Automations fire on their triggers, once, and only through the consent decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Journey, Message, Template
from inbox.texting import automations, consent
from inbox.texting.journeys import open_journey
from tests import factories


def automated(trigger: str) -> list[Message]:
    """Automated texts of one trigger, oldest first."""
    db.session.expire_all()
    return db.session.scalars(
        select(Message)
        .join(Template, Template.id == Message.template_id)
        .where(Message.kind == "automated", Template.trigger == trigger)
        .order_by(Message.id)
    ).all()


def opted_in_contact(practice, phone="+14155550123"):
    """A contact who accepted texts."""
    contact = factories.contact(practice, phone=phone)
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    db.session.commit()
    return contact


def test_welcome_fires_once_for_a_manually_created_journey(practice):
    contact = opted_in_contact(practice)
    journey = open_journey(contact, source="manual")
    db.session.commit()
    welcome = automated("welcome")
    assert len(welcome) == 1 and welcome[0].journey_id == journey.id
    assert welcome[0].body.startswith("Hi Maria, Welcome to Calm Harbor Therapy!")
    assert "Text STOP to unsubscribe" in welcome[0].body
    # Closing and reopening is not a new journey: no second welcome.
    journey.is_open = False
    db.session.commit()
    journey.is_open = True
    db.session.commit()
    assert len(automated("welcome")) == 1


def test_welcome_can_be_switched_off(practice):
    practice.welcome_enabled = False
    db.session.commit()
    open_journey(opted_in_contact(practice))
    db.session.commit()
    assert automated("welcome") == []


def test_no_welcome_for_an_opted_out_contact(practice):
    contact = factories.contact(practice)
    consent.record(contact, "opted_out", "sms_keyword", evidence="STOP")
    open_journey(contact)
    db.session.commit()
    assert automated("welcome") == []


def test_setting_an_appointment_sends_its_confirmation(staff_client, practice):
    journey = factories.journey(opted_in_contact(practice))
    response = staff_client.patch(
        f"/api/journeys/{journey.id}", json={"appointment_at": "2026-11-24T20:30:00+00:00"}
    )
    assert response.status_code == 200
    [confirmation] = automated("appointment")
    assert "Tue 24 Nov, 3:30 PM" in confirmation.body  # in the practice's time zone
    bad = staff_client.patch(f"/api/journeys/{journey.id}", json={"appointment_at": "tomorrow"})
    assert bad.status_code == 400


def test_paperwork_reminder_goes_once_a_day_before_it_is_due(practice):
    journey = factories.journey(opted_in_contact(practice))
    now = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 11:00 in New York
    journey.paperwork_due_at = now + timedelta(days=3)
    db.session.commit()
    assert automations.tick(now) == 0
    assert automations.tick(now + timedelta(days=2, hours=1)) == 1
    assert automations.tick(now + timedelta(days=2, hours=2)) == 0
    assert len(automated("paperwork")) == 1


def test_follow_up_after_a_quiet_week_and_not_again_until_they_reply(practice, inbound):
    contact = opted_in_contact(practice)
    journey = factories.journey(contact, last_activity_at=datetime(2026, 11, 1, tzinfo=UTC))
    now = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert automations.tick(now) == 1
    db.session.get(Journey, journey.id).last_activity_at = now - timedelta(days=30)
    db.session.commit()
    assert automations.tick(now) == 0  # no reply since our follow-up: do not nag
    inbound("Sorry, busy week", from_=contact.phone)
    db.session.get(Journey, journey.id).last_activity_at = now - timedelta(days=30)
    db.session.commit()
    assert automations.tick(now) == 1
    assert len(automated("followup")) == 2


def test_automation_in_quiet_hours_waits_for_morning(practice):
    journey = factories.journey(
        opted_in_contact(practice, phone="+12125550123"), last_activity_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    late = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 22:00 in New York, for the practice and the contact
    automations.tick(late)
    [followup] = automated("followup")
    assert followup.status == "queued"
    assert followup.not_before == datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    assert db.session.scalar(select(func.count(Journey.id))) == 1 and journey.id


def test_journey_changes_appear_as_activity_lines_and_are_audited(staff_client, practice, staff):
    from inbox.models import AuditEvent

    journey = factories.journey(factories.contact(practice))
    staff_client.patch(f"/api/journeys/{journey.id}", json={"pathway": "waitlist", "assignee_id": staff.id})
    staff_client.patch(f"/api/journeys/{journey.id}", json={"is_open": False})
    staff_client.patch(f"/api/journeys/{journey.id}", json={"is_open": True})
    thread = staff_client.get(f"/api/journeys/{journey.id}/messages").get_json()["messages"]
    assert [(m["direction"], m["body"]) for m in thread] == [
        ("activity", "Dana Reyes moved this journey to Waitlist"),
        ("activity", "Dana Reyes took this journey"),
        ("activity", "Dana Reyes closed this journey"),
        ("activity", "Dana Reyes reopened this journey"),
    ]
    assert staff_client.get("/api/journeys").get_json()["journeys"][0]["unread"] == 0
    assert automated("welcome") == []  # reopening is not a new journey
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "journey.update")).all()
    assert len(actions) == 3


def test_staff_start_a_new_journey_for_an_existing_contact_with_its_own_welcome(
    practice, staff_client, staff
):
    contact = opted_in_contact(practice)
    first = open_journey(contact, source="manual")
    db.session.commit()
    response = staff_client.post(f"/api/contacts/{contact.id}/journeys", json={"pathway": "waitlist"})
    assert response.status_code == 201
    created = response.get_json()["journey"]
    assert response.get_json()["url"] == f"/journeys/{created['id']}" and created["id"] != first.id
    journey = db.session.get(Journey, created["id"])
    assert (journey.contact_id, journey.pathway, journey.source) == (contact.id, "waitlist", "manual")
    assert [m.journey_id for m in automated("welcome")] == [first.id, journey.id]
    lines = db.session.scalars(
        select(Message).where(Message.journey_id == journey.id, Message.direction == "activity")
    ).all()
    assert [line.body for line in lines] == ["Dana Reyes started this journey in Waitlist"]


def test_new_journey_refuses_unknown_pathways_and_other_practices_contacts(practice, staff_client):
    contact = factories.contact(practice)
    other = factories.contact(factories.practice(name="Other", number="+15005550999"), phone="+14155550999")
    assert (
        staff_client.post(f"/api/contacts/{contact.id}/journeys", json={"pathway": "nowhere"}).status_code
        == 400
    )
    assert staff_client.post(f"/api/contacts/{other.id}/journeys", json={}).status_code == 404
    assert db.session.scalar(select(func.count(Journey.id))) == 0


def test_assigning_a_journey_to_someone_else_names_them(staff_client, practice, staff):
    colleague = factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Lee")
    journey = factories.journey(factories.contact(practice))
    staff_client.patch(f"/api/journeys/{journey.id}", json={"assignee_id": colleague.id})
    staff_client.patch(f"/api/journeys/{journey.id}", json={"assignee_id": None})
    thread = staff_client.get(f"/api/journeys/{journey.id}/messages").get_json()["messages"]
    assert [m["body"] for m in thread] == [
        "Dana Reyes assigned this journey to Sam Lee",
        "Dana Reyes unassigned this journey",
    ]
