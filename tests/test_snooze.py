"""Snoozed journeys leave the inbox until their time or the contact's next text; mark unread per user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox import worker
from inbox.extensions import db, socketio
from inbox.models import AuditEvent, Journey, ReadMarker
from inbox.texting import journeys
from tests import factories
from tests.conftest import StaffClient
from tests.test_query_counts import StatementCounter, counting, show


@pytest.fixture
def pushes(monkeypatch):
    """Every Socket.IO event the app emits, as (event, payload, room)."""
    heard: list[tuple[str, dict, str]] = []
    monkeypatch.setattr(socketio, "emit", lambda event, payload, to: heard.append((event, payload, to)))
    return heard


@pytest.fixture
def two(practice):
    """Two open journeys with a text each: Maria's and Sam's."""
    maria = factories.journey(factories.contact(practice, phone="+14155550123"))
    sam = factories.journey(factories.contact(practice, phone="+14155550124", first_name="Sam"))
    for j in (maria, sam):
        msg = factories.message(j, "Hello")
        db.session.flush()
        j.last_message_id = msg.id
    db.session.commit()
    return maria, sam


def listed(client, **params) -> list[int]:
    """The journey ids GET /api/journeys answers with."""
    answer = client.get("/api/journeys", query_string=params)
    assert answer.status_code == 200
    return [j["id"] for j in answer.get_json()["journeys"]]


def later(**delta) -> str:
    """A time this far ahead of the real clock, ISO 8601 with an offset."""
    return (datetime.now(UTC) + timedelta(**delta)).astimezone().isoformat()


def test_snoozed_journey_leaves_the_default_views_and_snoozed_lists_it(staff_client, two):
    maria, sam = two
    answer = staff_client.patch(f"/api/journeys/{maria.id}", json={"snoozed_until": later(hours=3)})
    assert answer.status_code == 200
    assert answer.get_json()["journey"]["snoozed_until"]
    assert maria.id not in listed(staff_client)
    assert maria.id not in listed(staff_client, state="all")
    assert listed(staff_client, snoozed=1) == [maria.id]
    assert sam.id in listed(staff_client)
    page = staff_client.get("/?snoozed=1").get_data(as_text=True)
    assert f'data-journey-id="{maria.id}"' in page and f'data-journey-id="{sam.id}"' not in page

    thread = staff_client.get(f"/api/journeys/{maria.id}/messages").get_json()["messages"]
    assert "snoozed this journey until" in thread[-1]["body"]

    assert staff_client.patch(f"/api/journeys/{maria.id}", json={"snoozed_until": None}).status_code == 200
    assert maria.id in listed(staff_client)
    assert listed(staff_client, snoozed=1) == []


def test_contacts_text_wakes_a_snoozed_journey_at_once(staff_client, two, inbound, pushes):
    maria, _sam = two
    staff_client.patch(f"/api/journeys/{maria.id}", json={"snoozed_until": later(days=2)})
    pushes.clear()
    assert inbound("Are you there?", from_="+14155550123").status_code == 200
    db.session.expire_all()
    assert db.session.get(Journey, maria.id).snoozed_until is None
    assert listed(staff_client)[0] == maria.id
    updates = [p for e, p, _room in pushes if e == "journey.updated" and p["id"] == maria.id]
    assert updates and updates[-1]["snoozed_until"] is None


def test_snooze_ends_at_its_time_and_every_tab_hears_it(staff_client, two, pushes):
    maria, _sam = two
    staff_client.patch(f"/api/journeys/{maria.id}", json={"snoozed_until": later(hours=1)})
    db.session.expire_all()
    until = db.session.get(Journey, maria.id).snoozed_until
    pushes.clear()
    assert journeys.wake_due(until - timedelta(seconds=1)) == 0
    assert pushes == []
    assert journeys.wake_due(until) == 1
    db.session.expire_all()
    woken = db.session.get(Journey, maria.id)
    assert woken.snoozed_until is None and woken.last_activity_at >= until
    assert [(e, p["id"], p["snoozed_until"]) for e, p, _room in pushes] == [
        ("journey.updated", maria.id, None)
    ]


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (later(minutes=-1), 422),
        (later(days=366), 422),
        ((datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat(), 422),
        ("tomorrow-ish", 422),
        (True, 422),
    ],
    ids=["past", "over a year", "no offset", "garbage", "a boolean"],
)
def test_bad_snooze_times_are_422_and_change_nothing(staff_client, two, value, status):
    maria, _sam = two
    answer = staff_client.patch(f"/api/journeys/{maria.id}", json={"snoozed_until": value})
    assert answer.status_code == status
    assert "snoozed_until" in answer.get_json()["error"]
    db.session.expire_all()
    assert db.session.get(Journey, maria.id).snoozed_until is None


def test_another_practices_journey_cannot_be_snoozed_or_marked_unread(staff_client):
    other = factories.practice("Elsewhere", number="+15005550001")
    foreign = factories.journey(factories.contact(other, phone="+14155550177"))
    assert (
        staff_client.patch(f"/api/journeys/{foreign.id}", json={"snoozed_until": later(hours=1)}).status_code
        == 404
    )
    assert staff_client.post(f"/api/journeys/{foreign.id}/unread").status_code == 404
    db.session.expire_all()
    assert db.session.get(Journey, foreign.id).snoozed_until is None


def test_mark_unread_brings_the_badge_back_for_that_user_only(app, staff_client, practice, two, pushes):
    maria, _sam = two
    colleague = factories.user(practice, email="lee@example.com")
    other_client = StaffClient(app.test_client())
    other_client.login(colleague.email)
    for client in (staff_client, other_client):
        client.get(f"/api/journeys/{maria.id}/messages")  # both read the thread

    def badge(client) -> int:
        return {j["id"]: j["unread"] for j in client.get("/api/journeys").get_json()["journeys"]}[maria.id]

    assert badge(staff_client) == badge(other_client) == 0
    pushes.clear()
    answer = staff_client.post(f"/api/journeys/{maria.id}/unread")
    assert answer.status_code == 200 and answer.get_json()["unread"] == 1
    assert badge(staff_client) == 1
    assert badge(other_client) == 0
    staff = db.session.get(ReadMarker, 1).user_id  # the first marker is the first reader's
    assert pushes == [("journey.unread", {"journey_id": maria.id, "unread": 1}, f"user:{staff}")]
    assert db.session.query(AuditEvent).filter_by(action="journey.unread").count() == 1


def test_a_journey_without_a_text_from_the_contact_cannot_be_marked_unread(staff_client, practice):
    quiet = factories.journey(factories.contact(practice, phone="+14155550199"))
    answer = staff_client.post(f"/api/journeys/{quiet.id}/unread")
    assert answer.status_code == 409
    assert "no text from the contact" in answer.get_json()["error"]


def test_the_workers_sweep_brings_snoozed_journeys_back(two, gateway, monkeypatch):
    maria, _sam = two
    db.session.get(Journey, maria.id).snoozed_until = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    monkeypatch.setattr(worker, "_next_run", {})  # the periodic sweep is due on this pass
    worker.run_once(gateway, "test-worker")
    db.session.expire_all()
    assert db.session.get(Journey, maria.id).snoozed_until is None


def test_mark_unread_never_hides_texts_that_were_unread_already(staff_client, two, inbound):
    maria, _sam = two
    inbound("One more thing", from_="+14155550123")
    assert staff_client.post(f"/api/journeys/{maria.id}/unread").get_json()["unread"] == 2


def test_waking_costs_the_webhook_one_statement_and_only_when_snoozed(staff_client, two, inbound):
    maria, _sam = two
    inbound("warm-up", from_="+14155550123")  # the first text from a contact settles its consent request

    def statements() -> StatementCounter:
        with counting() as counter:
            assert inbound("Still there?", from_="+14155550123").status_code == 200
        return counter

    awake = statements()
    staff_client.patch(f"/api/journeys/{maria.id}", json={"snoozed_until": later(days=1)})
    snoozed = statements()
    assert len(snoozed) == len(awake) + 1, show(snoozed)
    assert [s for s in snoozed.statements if s.lstrip().startswith("UPDATE journeys SET snoozed_until")]
    db.session.expire_all()
    assert db.session.get(Journey, maria.id).snoozed_until is None
