"""Builders for test records, so each test says only what matters to it."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Contact, Journey, Message, Practice, User
from inbox.texting.practices import create_practice
from inbox.texting.thread import new_message, touch_journey
from tests import ephi_watch

PASSWORD = "correct horse battery staple"
# One cheap hash for every test user: argon2 at full cost would dominate the suite's run time.
_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def practice(name: str = "Calm Harbor Therapy", number: str | None = None, **settings) -> Practice:
    """A practice with its number and pre-loaded templates."""
    number = number or "+1500555" + str(secrets.randbelow(10_000)).zfill(4)
    p = create_practice(name, number, "America/New_York", phone="(555) 010-2000", **settings)
    db.session.commit()
    return p


def user(practice: Practice, email: str | None = None, role: str = "staff", **fields) -> User:
    """A staff member who logs in with factories.PASSWORD."""
    u = User(
        practice_id=practice.id,
        email=email or f"staff{secrets.token_hex(3)}@example.com",
        role=role,
        password_hash=_HASH,
        first_name=fields.pop("first_name", "Dana"),
        last_name=fields.pop("last_name", "Reyes"),
        **fields,
    )
    db.session.add(u)
    db.session.commit()
    return u


def contact(practice: Practice, phone: str = "+14155550100", **fields) -> Contact:
    """A contact of the practice (its name and number are watched for in the logs)."""
    fields.setdefault("first_name", "Maria")
    fields.setdefault("last_name", "Lopez")
    ephi_watch.remember(phone, fields["first_name"], fields["last_name"])
    c = Contact(
        practice_id=practice.id,
        phone=phone,
        first_name=fields.pop("first_name", "Maria"),
        last_name=fields.pop("last_name", "Lopez"),
        **fields,
    )
    db.session.add(c)
    db.session.commit()
    return c


def contact_by_phone(phone: str) -> Contact:
    """The one contact (of any practice) with this number: numbers are sealed, so the test opens them all."""
    matches = [c for c in db.session.scalars(select(Contact)) if c.phone == phone]
    assert len(matches) == 1, f"{len(matches)} contacts have that number"
    return matches[0]


def journey(contact: Contact, pathway: str = "intake", **fields) -> Journey:
    """An open journey of the contact (no welcome automation: tests of it call journeys.open_journey)."""
    j = Journey(practice_id=contact.practice_id, contact_id=contact.id, pathway=pathway, **fields)
    db.session.add(j)
    db.session.commit()
    return j


def message(journey: Journey, body: str = "Hello", direction: str = "inbound", **fields) -> Message:
    """A stored message of the journey (added to the session; the caller commits, so many are cheap)."""
    fields.setdefault("status", "received" if direction == "inbound" else "delivered")
    fields.setdefault("kind", "inbound" if direction == "inbound" else "staff")
    return new_message(journey, direction=direction, body=body, **fields)


def texted(journey: Journey, body: str = "Hello", direction: str = "inbound", **fields) -> Message:
    """A committed text that moves its journey to the top of the inbox (last_message_id, a push), as the
    real senders do: what the workspace's views and rows read."""
    msg = message(journey, body, direction=direction, **fields)
    db.session.flush()
    touch_journey(journey, msg)
    db.session.commit()
    return msg
