"""Staff naming and correcting a contact: validation, sealed values, an audit that names the changed
fields only, and 404 for another practice's contact."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from inbox.extensions import db
from inbox.models import AuditEvent, Contact, SearchTerm
from inbox.texting import contacts, search
from tests import ephi_watch, factories
from tests.conftest import PG_URL, StaffClient

UNKNOWN = "+14155550142"


@pytest.fixture
def unknown(practice):
    """A number that texted in: nobody has named it yet."""
    return factories.contact(practice, phone=UNKNOWN, first_name="", last_name="")


def edit(client, contact_id, **fields):
    """PATCH the contact as the journey header does."""
    ephi_watch.remember(*(v for v in fields.values() if isinstance(v, str)))
    return client.patch(f"/api/contacts/{contact_id}", json=fields)


def audits():
    """The contact.update audit events, oldest first."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.update")))


def test_naming_an_unknown_number_seals_the_name_and_audits_the_field_names_only(
    staff_client, unknown, staff
):
    journey = factories.journey(unknown)
    assert (
        staff_client.get(f"/api/journeys/{journey.id}").get_json()["journey"]["contact"] == "(415) 555-0142"
    )
    response = edit(
        staff_client, unknown.id, first_name="  Jordan ", last_name="Okafor", email="j.okafor@example.org"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["changed"] == ["first_name", "last_name", "email"]
    assert body["contact"]["name"] == "Jordan Okafor" and body["contact"]["phone"] == "(415) 555-0142"
    db.session.expire_all()
    contact = db.session.get(Contact, unknown.id)
    assert (contact.first_name, contact.last_name, contact.email) == (
        "Jordan",
        "Okafor",
        "j.okafor@example.org",
    )
    raw = db.session.execute(text("SELECT first_name_ct FROM contacts WHERE id = :id"), {"id": unknown.id})
    assert b"Jordan" not in bytes(raw.scalar_one())
    [event] = audits()
    assert event.user_id == staff.id and event.target_type == "contacts" and event.target_id == unknown.id
    assert event.detail == {"fields": ["first_name", "last_name", "email"]}
    assert "Jordan" not in str(event.detail) and "okafor" not in str(event.detail).lower()
    assert staff_client.get(f"/api/journeys/{journey.id}").get_json()["journey"]["contact"] == "Jordan Okafor"


def test_only_fields_that_changed_are_audited(staff_client, practice):
    maria = factories.contact(practice)
    response = edit(staff_client, maria.id, first_name="Maria", last_name="López", preferred_language="es")
    assert response.get_json()["changed"] == ["last_name", "preferred_language"]
    assert edit(staff_client, maria.id, first_name="Maria").get_json()["changed"] == []
    assert [e.detail["fields"] for e in audits()] == [["last_name", "preferred_language"]]


def test_guardian_phone_is_normalised_to_e164(staff_client, practice):
    maria = factories.contact(practice)
    response = edit(staff_client, maria.id, guardian_name="Rosa Lopez", guardian_phone="(415) 555-0199")
    assert (
        response.status_code == 200 and response.get_json()["contact"]["guardian_phone"] == "(415) 555-0199"
    )
    db.session.expire_all()
    assert db.session.get(Contact, maria.id).guardian_phone == "+14155550199"
    # Clearing is allowed: null or an empty string.
    assert edit(staff_client, maria.id, guardian_phone="", email=None).status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, maria.id).guardian_phone is None


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"email": "not-an-email"}, "email must look like"),
        ({"email": "a@b"}, "email must look like"),
        ({"email": "two@at@example.com"}, "email must look like"),
        ({"guardian_phone": "12"}, "guardian_phone"),
        ({"guardian_phone": "call me"}, "guardian_phone"),
        ({"phone": "+14155550111"}, "cannot be changed here: phone"),
        ({"nickname": "JJ"}, "cannot be changed here: nickname"),
        ({"first_name": 7}, "first_name must be text"),
        ({"first_name": "x" * 101}, "at most 100"),
        ({"preferred_language": "klingon"}, "preferred_language must be one of"),
    ],
)
def test_bad_changes_are_refused_with_a_reason(staff_client, practice, fields, reason):
    maria = factories.contact(practice)
    response = staff_client.patch(f"/api/contacts/{maria.id}", json=fields)
    assert response.status_code == 400 and reason in response.get_json()["error"]
    assert audits() == []


def test_a_body_that_is_not_an_object_is_refused(staff_client, practice):
    maria = factories.contact(practice)
    assert staff_client.patch(f"/api/contacts/{maria.id}", json=["first_name"]).status_code == 400


def test_another_practices_contact_is_not_found(staff_client):
    theirs = factories.contact(factories.practice("Quiet River Counseling"), phone="+14155550177")
    assert edit(staff_client, theirs.id, first_name="Sam").status_code == 404
    assert edit(staff_client, 999_999, first_name="Sam").status_code == 404
    db.session.expire_all()
    assert db.session.get(Contact, theirs.id).first_name == "Maria"


def test_editing_needs_a_login(client, practice):
    maria = factories.contact(practice)
    assert client.get(f"/api/contacts/{maria.id}/consent").status_code == 401
    assert client.patch(f"/api/contacts/{maria.id}", json={"first_name": "X"}).status_code in (400, 401)
    db.session.expire_all()
    assert db.session.get(Contact, maria.id).first_name == "Maria"


@pytest.mark.skipif(not PG_URL, reason="real concurrent writers need PostgreSQL (SQLite serialises them)")
def test_two_edits_at_once_leave_the_search_index_built_from_the_row_as_committed(
    app, practice, staff, staff_client, unknown, monkeypatch
):
    """Issue 23: each request indexed its own copy, so the second to commit put back the first's old
    name. Both requests read the contact before either writes (a barrier in between), every round."""
    colleague = factories.user(practice, email="sam@example.com")
    other_client = StaffClient(app.test_client())
    other_client.login(colleague.email)
    barrier = threading.Barrier(2, timeout=10)
    real_update = contacts.update_contact

    def update_after_both_have_read(*args):
        barrier.wait()
        return real_update(*args)

    monkeypatch.setattr(contacts, "update_contact", update_after_both_have_read)
    stale, contact_id = [], unknown.id
    for letter in "abcdefghijkl":
        first, last = f"Firsty{letter}", f"Lastly{letter}"
        statuses: list = []

        def send(client, field, value, statuses=statuses):
            statuses.append(edit(client, contact_id, **{field: value}))

        threads = [
            threading.Thread(target=send, args=(staff_client, "first_name", first)),
            threading.Thread(target=send, args=(other_client, "last_name", last)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [s.status_code for s in statuses] == [200, 200]
        db.session.expire_all()
        assert (unknown.first_name, unknown.last_name) == (first, last)
        terms = {(search.NAME, first.lower()), (search.NAME, last.lower())}
        if contact_id not in search._owners(practice.id, terms, SearchTerm.contact_id):
            stale.append(letter)
        db.session.rollback()
    assert stale == []
