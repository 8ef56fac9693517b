"""Audit details name fields, never values: every action that takes words, names, numbers or dates from a
person is driven with distinctive values, and none of them reaches the trail, the admin's audit page or
audit.csv (a journey's stage used to, in plain text, while it was sealed at rest)."""

from __future__ import annotations

import json
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from inbox import create_app
from inbox.common import audit
from inbox.extensions import db
from inbox.models import AuditEvent, Journey, OptOutRequest
from tests import factories

# Each value is distinctive enough that finding it anywhere means it leaked.
STAGE = "Zephyrine intake review"
APPOINTMENT = "2026-12-19T09:26:00-05:00"
PAPERWORK = "2026-12-23T13:47:00-05:00"
SNOOZE = "2026-12-21T11:38:00-05:00"
FIRST, LAST, GUARDIAN = "Quillonette", "Marrowbyne", "Thessaly Marrowbyne"
EMAIL = "quillonette@marrowbyne.example"
GUARDIAN_PHONE = "(415) 555-0166"
NOTE = "Vellichor note about the callback"
BODY = "Obsidianne reply about Thursday"
CONSENT_NOTE = "Larkspur said stop on the phone"
ACK_NOTE = "Called Quillonette, Brindlewood safe"
DISMISS = "Thistlewick was asking about parking"
CONFIRMED = "Gossamerine please stop texting me"
STAFF_PHONE = "(415) 555-0133"
ON_CALL_PHONE = "(415) 555-0134"
INTAKE = {"first_name": "Pemberlyn", "last_name": "Ashcombe", "phone": "(415) 555-0177", "reason": "Corvina"}
# What must never appear, as stored or as shown (dates and numbers in every form the app writes them).
NEVER = [
    STAGE,
    "Zephyrine",
    "2026-12-19",
    "2026-12-23",
    "2026-12-21",
    FIRST,
    LAST,
    "Thessaly",
    "marrowbyne.example",
    "5550166",
    "555-0166",
    "Vellichor",
    "Obsidianne",
    "Larkspur",
    "Brindlewood",
    "Thistlewick",
    "Gossamerine",
    "5550133",
    "555-0133",
    "5550134",
    "555-0134",
    "Pemberlyn",
    "Ashcombe",
    "5550177",
    "Corvina",
]
# The actions the scenario must have audited, or it proved nothing about them.
DRIVEN = {
    "journey.update",
    "contact.update",
    "note.create",
    "message.preview",
    "message.send",
    "consent.change",
    "safety.acknowledge",
    "opt_out_request.dismiss",
    "opt_out_request.confirm",
    "account.phone",
    "phone_intake.submit",
    "oncall.update",
}


def form_token(client, path: str) -> str:
    """The CSRF token of a page's form."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_no_audit_detail_holds_a_value_a_person_wrote(practice, staff, inbound, staff_client, admin_client):
    contact = factories.contact(practice, phone="+14155550142")
    journey = factories.journey(contact)
    inbound("I want to kill myself tonight", from_="+14155550142")  # an open safety alert on it
    for phone, words in (("+14155550155", "please stop texting me"), ("+14155550156", CONFIRMED)):
        factories.journey(factories.contact(practice, phone=phone))
        inbound(words, from_=phone)
    db.session.expire_all()
    journey = db.session.get(Journey, journey.id)
    api = f"/api/journeys/{journey.id}"

    changes = {"stage": STAGE, "appointment_at": APPOINTMENT, "paperwork_due_at": PAPERWORK}
    assert staff_client.patch(api, json=changes).status_code == 200
    assert staff_client.patch(api, json={"snoozed_until": SNOOZE}).status_code == 200
    person = {
        "first_name": FIRST,
        "last_name": LAST,
        "email": EMAIL,
        "guardian_name": GUARDIAN,
        "guardian_phone": GUARDIAN_PHONE,
    }
    assert staff_client.patch(f"/api/contacts/{contact.id}", json=person).status_code == 200
    assert staff_client.post(f"{api}/notes", json={"body": NOTE}).status_code == 201
    assert staff_client.post(f"{api}/preview", json={"body": BODY}).status_code == 200
    assert staff_client.post(f"{api}/messages", json={"body": BODY}).status_code == 201
    assert staff_client.post(f"{api}/safety-ack", json={"note": ACK_NOTE}).status_code == 200
    answer = staff_client.post(
        f"/api/contacts/{contact.id}/consent", json={"state": "opted_out", "note": CONSENT_NOTE}
    )
    assert answer.status_code == 200
    waiting = db.session.scalars(select(OptOutRequest).order_by(OptOutRequest.id)).all()
    dismissed = staff_client.post(f"/api/opt-out-requests/{waiting[0].id}/dismiss", json={"reason": DISMISS})
    assert dismissed.status_code == 200
    assert staff_client.post(f"/api/opt-out-requests/{waiting[1].id}/confirm", json={}).status_code == 200
    token = form_token(staff_client, "/account/phone")
    assert (
        staff_client.client.post(
            "/account/phone", data={"phone": STAFF_PHONE, "csrf_token": token}
        ).status_code
        == 302
    )
    token = form_token(staff_client, "/intake/phone")
    fields = {**INTAKE, "attestation": "y", "consent": "y", "csrf_token": token}
    assert staff_client.client.post("/intake/phone", data=fields).status_code == 302
    on_call = admin_client.post("/admin/on-call", json={"phones": {str(staff.id): ON_CALL_PHONE}})
    assert on_call.status_code == 200

    events = db.session.scalars(select(AuditEvent)).all()
    assert DRIVEN <= {e.action for e in events}, DRIVEN - {e.action for e in events}
    details = [(e.action, str(e.detail)) for e in events]
    assert [(action, word) for action, detail in details for word in NEVER if word in detail] == []
    update = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "journey.update"))
    assert set(update.detail["fields"]) == {"stage", "appointment_at", "paperwork_due_at"}
    # Nor on the admin's screen, nor in the export.
    for shown in (admin_client.get("/admin/audit"), admin_client.get("/admin/audit.csv")):
        text = shown.get_data(as_text=True)
        assert shown.status_code == 200 and "journey.update" in text
        assert [word for word in NEVER if word in text] == []


@pytest.mark.parametrize(
    "detail",
    [{"stage": "New inquiry"}, {"note": "called"}, {"appointment_at": "2026-12-19"}, {"body": ["a", "b"]}],
    ids=repr,
)
def test_text_under_a_key_not_known_to_hold_codes_is_refused(app, detail):
    with pytest.raises(audit.AuditDetailError) as refused:
        audit.record("journey.update", **detail)
    assert str(next(iter(detail.values()))) not in str(refused.value)  # the error names the key only


def test_in_service_such_text_is_withheld_and_the_event_kept(app, monkeypatch, caplog):
    # A request must not fail over its audit detail (a webhook's text would be lost): the value goes,
    # the key is logged, the event stays.
    monkeypatch.setitem(app.config, "TESTING", False)
    event = audit.record("journey.update", journey_id=3, stage="New inquiry")
    assert event.detail == {"journey_id": 3, "stage": audit.WITHHELD}
    assert "'stage'" in caplog.text and "New inquiry" not in caplog.text


def test_ids_counts_flags_and_codes_are_kept(app):
    event = audit.record("x", journey_id=3, count=2, forced=True, message_ids=[1, 2], state="opted_out")
    assert event.detail == {
        "journey_id": 3,
        "count": 2,
        "forced": True,
        "message_ids": [1, 2],
        "state": "opted_out",
    }


def test_the_migration_leaves_old_journey_updates_with_field_names_only(blank_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", blank_url)
    app = create_app()
    old = {"stage": STAGE, "appointment_at": APPOINTMENT, "pathway": "waitlist", "assignee_id": 4}
    insert = text(
        "INSERT INTO audit_events (action, detail, created_at) VALUES (:action, :detail, '2026-11-01')"
    )
    with app.app_context():
        upgrade(revision="0016")
        with db.engine.begin() as conn:
            conn.execute(insert, {"action": "journey.update", "detail": json.dumps(old)})
            conn.execute(insert, {"action": "thread.view", "detail": json.dumps({"count": 3})})
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT action, detail FROM audit_events ORDER BY id")).all()
        db.engine.dispose()
    details = [(action, json.loads(d) if isinstance(d, str) else d) for action, d in rows]
    assert details == [
        (
            "journey.update",
            {
                "fields": ["stage", "appointment_at", "pathway", "assignee_id"],
                "pathway": "waitlist",
                "assignee_id": 4,
            },
        ),
        ("thread.view", {"count": 3}),
    ]
