"""Demo data for the embedded default: a practice, two staff, and journeys in every pathway."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ConsentEvent, Contact, Journey, PracticeNumber, User, utcnow
from inbox.texting.practices import create_practice
from inbox.texting.thread import new_message
from inbox.vocabulary import ConsentState, Direction, Kind, Status
from inbox.web.auth import hash_password

# (first, last, phone, pathway, stage, consent, thread of (direction, body))
CONTACTS = [
    (
        "Maria",
        "Lopez",
        "+15005550101",
        "intake",
        "New inquiry",
        "pending",
        [
            ("inbound", "Hi, I'd like to book an intake appointment for anxiety. Do you take Aetna?"),
        ],
    ),
    (
        "James",
        "Carter",
        "+15005550102",
        "intake",
        "Insurance check",
        "opted_in",
        [
            ("inbound", "Hello, is this the right number to schedule a first session?"),
            (
                "outbound",
                "Hi James, yes! This is Dana from Calm Harbor Therapy. Could you send a photo of your insurance card?",
            ),
            ("inbound", "Sure, I'll send it tonight."),
        ],
    ),
    (
        "Priya",
        "Shah",
        "+15005550103",
        "waitlist",
        "Waiting for evening slot",
        "opted_in",
        [
            (
                "outbound",
                "Hi Priya, a Tuesday 6pm slot may open next month. We'll text you as soon as it does.",
            ),
            ("inbound", "Thank you, that would be perfect."),
        ],
    ),
    (
        "Tom",
        "Nguyen",
        "+15005550104",
        "current",
        "Weekly sessions",
        "opted_in",
        [
            ("outbound", "Hi Tom, reminder: your session is Thursday at 4:00 PM."),
            ("inbound", "Got it, see you then."),
        ],
    ),
    (
        "Ellen",
        "Brooks",
        "+15005550105",
        "current",
        "Monthly check-in",
        "opted_out",
        [
            ("inbound", "STOP"),
        ],
    ),
]


def load_demo(number: str, password: str) -> bool:
    """Create the demo practice unless its number exists already; True if it was created."""
    if db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == number)):
        return False
    practice = create_practice(
        "Calm Harbor Therapy",
        number,
        "America/New_York",
        phone="(555) 010-2000",
        email="intake@calmharbor.example",
        website="https://calmharbor.example",
    )
    hashed = hash_password(password)
    db.session.add_all(
        [
            User(
                practice=practice,
                email="admin@example.com",
                role="admin",
                first_name="Avery",
                last_name="Kim",
                password_hash=hashed,
            ),
            User(
                practice=practice,
                email="dana@example.com",
                role="staff",
                first_name="Dana",
                last_name="Reyes",
                password_hash=hashed,
            ),
        ]
    )
    now = utcnow()
    for index, (first, last, phone, pathway, stage, consent_state, thread) in enumerate(CONTACTS):
        contact = Contact(
            practice_id=practice.id,
            phone=phone,
            first_name=first,
            last_name=last,
            consent_state=consent_state,
        )
        db.session.add(contact)
        db.session.flush()
        db.session.add(
            ConsentEvent(
                practice_id=practice.id,
                contact_id=contact.id,
                state=consent_state,
                source="sms_keyword" if consent_state != ConsentState.PENDING else "opt_in_request",
                evidence={"opted_in": "YES", "opted_out": "STOP"}.get(consent_state, "opt-in request sent"),
            )
        )
        journey = Journey(
            practice_id=practice.id,
            contact=contact,
            pathway=pathway,
            stage=stage,
            is_inquiry=pathway == "intake",
            source="sms",
        )
        db.session.add(journey)
        db.session.flush()
        at = now - timedelta(hours=len(CONTACTS) - index, minutes=len(thread) * 5)
        for direction, body in thread:
            at += timedelta(minutes=5)
            msg = new_message(
                journey,
                direction=direction,
                kind=Kind.INBOUND if direction == Direction.INBOUND else "staff",
                body=body,
                status=Status.RECEIVED if direction == Direction.INBOUND else "delivered",
                twilio_sid="SM" + secrets.token_hex(16),
                created_at=at,
            )
            db.session.flush()
            journey.last_message_id, journey.last_activity_at = msg.id, at
    db.session.commit()
    return True
