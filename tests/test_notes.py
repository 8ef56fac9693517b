"""Internal notes with @mentions over the API: the shape, sealed at rest, never sent, never an answer,
and mentions only of the practice's own staff."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from inbox.extensions import db
from inbox.models import AuditEvent, Journey, Mention, Message
from inbox.texting import consent, outbox
from tests import ephi_watch, factories

NOTE = "Called her mum, she prefers Tuesday evenings"


@pytest.fixture
def journey(practice):
    """Maria's journey; she opted in, so a staff text would go straight to the outbox."""
    practice.quiet_start = practice.quiet_end = 0  # no quiet hours: the real reply below goes at once
    contact = factories.contact(practice, phone="+14155550100")
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    db.session.commit()
    return factories.journey(contact)


@pytest.fixture
def colleague(practice):
    """Another staff member of the practice, to mention."""
    return factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Patel")


def add_note(client, journey_id, body=NOTE, mentions=None):
    """POST a note the way the composer does."""
    ephi_watch.remember(body if isinstance(body, str) else "")
    payload = {"body": body} if mentions is None else {"body": body, "mentions": mentions}
    return client.post(f"/api/journeys/{journey_id}/notes", json=payload)


def test_a_note_is_kept_in_the_thread_as_a_staff_only_line(staff_client, journey, staff, colleague):
    response = add_note(staff_client, journey.id, mentions=[colleague.id])
    assert response.status_code == 201
    note = response.get_json()["message"]
    assert note["direction"] == "note" and note["kind"] == "note" and note["status"] == "logged"
    assert note["body"] == NOTE and note["sender"] == "Dana Reyes"
    assert note["flags"] == {"mentions": [colleague.id]}
    thread = staff_client.get(f"/api/journeys/{journey.id}/messages").get_json()["messages"]
    assert [(m["id"], m["direction"]) for m in thread] == [(note["id"], "note")]
    mention = db.session.scalar(select(Mention))
    assert (mention.message_id, mention.user_id, mention.by_id, mention.read_at) == (
        note["id"],
        colleague.id,
        staff.id,
        None,
    )
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "note.create"))
    assert audit.target_id == note["id"] and audit.detail == {
        "journey_id": journey.id,
        "mentions": [colleague.id],
    }


def test_a_note_is_sealed_at_rest(staff_client, journey):
    note_id = add_note(staff_client, journey.id).get_json()["message"]["id"]
    raw = db.session.execute(
        text("SELECT body_ct FROM messages WHERE id = :id"), {"id": note_id}
    ).scalar_one()
    assert raw and NOTE.encode() not in bytes(raw) and b"Tuesday" not in bytes(raw)
    assert db.session.get(Message, note_id).body == NOTE


def test_a_note_never_reaches_the_outbox_or_twilio(staff_client, journey, gateway, fake_twilio):
    add_note(staff_client, journey.id)
    assert outbox.drain(gateway, "test-worker") == 0
    db.session.commit()
    assert fake_twilio.sent == [] and fake_twilio.send_attempts == 0
    # The same thread's real reply does go: the outbox was working all along.
    assert (
        staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": "Hi Maria"}).status_code
        == 201
    )
    assert outbox.drain(gateway, "test-worker") == 1
    assert [m["body"] for m in fake_twilio.sent] == ["Hi Maria"]


def test_a_note_does_not_answer_the_contacts_text(staff_client, journey, inbound, staff):
    assert inbound("Can I book for next week?").status_code == 200
    db.session.expire_all()
    text_id = db.session.get(Journey, journey.id).last_message_id
    before = db.session.get(Journey, journey.id).last_activity_at
    add_note(staff_client, journey.id, body="Checking the calendar before I reply")
    db.session.expire_all()
    after = db.session.get(Journey, journey.id)
    assert after.last_message_id == text_id and after.last_activity_at == before
    row = next(j for j in staff_client.get("/api/journeys").get_json()["journeys"] if j["id"] == journey.id)
    assert row["snippet"] == "Can I book for next week?" and row["last_message_id"] == text_id


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"body": ""}, "write a note first"),
        ({"body": "   \n "}, "write a note first"),
        ({}, "write a note first"),
        ({"body": 42}, "write a note first"),
        ({"body": "x" * 4001}, "at most 4000"),
        ({"body": "ok", "mentions": "sam"}, "list"),
        ({"body": "ok", "mentions": ["1"]}, "staff ids"),
        ({"body": "ok", "mentions": [True]}, "staff ids"),
    ],
)
def test_bad_notes_are_refused_with_a_reason(staff_client, journey, payload, reason):
    response = staff_client.post(f"/api/journeys/{journey.id}/notes", json=payload)
    assert response.status_code == 400 and reason in response.get_json()["error"]
    assert db.session.scalar(select(Message.id)) is None


def test_mentioning_someone_outside_the_practice_is_refused(staff_client, journey, colleague):
    other = factories.user(factories.practice("Quiet River Counseling"), email="kim@quietriver.example")
    gone = factories.user(journey.contact.practice, email="left@example.com", active=False)
    for mentions in ([other.id], [colleague.id, other.id], [gone.id], [999_999]):
        response = add_note(staff_client, journey.id, mentions=mentions)
        assert response.status_code == 422, mentions
        assert "only active staff of this practice" in response.get_json()["error"]
    assert db.session.scalar(select(Message.id)) is None and db.session.scalar(select(Mention.id)) is None


def test_another_practices_journey_is_not_found(staff_client):
    theirs = factories.journey(
        factories.contact(factories.practice("Quiet River Counseling"), phone="+14155550177")
    )
    assert add_note(staff_client, theirs.id).status_code == 404
    assert staff_client.post("/api/mentions/read", json={"journey_id": theirs.id}).status_code == 404


def test_notes_need_a_login(client, journey):
    assert client.get("/api/mentions").status_code == 401
    assert client.get("/mentions").status_code in (302, 401)


def test_the_mentions_list_counts_unread_until_the_thread_is_read(app, journey, staff_client, colleague):
    add_note(staff_client, journey.id, body="@Sam Patel can you call her back?", mentions=[colleague.id])
    sam = factories_client(app, colleague)
    listed = sam.get("/api/mentions").get_json()
    assert listed["unread"] == 1
    [entry] = listed["mentions"]
    assert entry["by"]["name"] == "Dana Reyes" and entry["contact"] == "Maria Lopez"
    assert entry["journey_id"] == journey.id and entry["read_at"] is None
    assert "Dana Reyes" in sam.get("/mentions").get_data(as_text=True)
    assert 'id="nav-mentions-count" class="count"' in sam.get("/mentions").get_data(as_text=True)
    assert sam.post("/api/mentions/read", json={"journey_id": journey.id}).get_json() == {
        "marked": 1,
        "unread": 0,
    }
    assert sam.get("/api/mentions").get_json()["unread"] == 0
    # Dana wrote it: it is not in her own list.
    assert staff_client.get("/api/mentions").get_json() == {"mentions": [], "unread": 0}


def factories_client(app, user):
    """A logged-in client for another staff member."""
    from tests.conftest import StaffClient

    c = StaffClient(app.test_client())
    c.login(user.email)
    return c
