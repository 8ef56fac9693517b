"""A patient's identity is sealed like their texts: names, numbers, emails, guardians, the stage staff gave
the journey and the consent evidence are ciphertext in the database, and a number is found by its keyed
digest. Checked by reading the database file itself, as someone who copied it would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from inbox import create_app, crypto
from inbox.extensions import db
from inbox.models import ConsentEvent, Contact, Journey, Message
from inbox.texting.journeys import find_contact
from tests import ephi_watch, factories
from tests.test_intake_forms import submit

# Twenty people: names, numbers and emails that must never be readable in the database file.
PEOPLE = [
    (f"Zelda{chr(65 + i)}ynn", f"Quartermain{chr(65 + i)}x", f"+1415555{i:04d}", f"zq{i}.person@example.org")
    for i in range(20)
]


def digits(e164: str) -> str:
    """A number as it might also appear: without the plus or the country code."""
    return e164.removeprefix("+1")


def database_bytes(url: str) -> bytes:
    """The SQLite file and its write-ahead log, as a copy of the disk would hold them."""
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def assert_nothing_readable(raw: bytes, values: list[str]) -> None:
    """None of the values, in UTF-8 or UTF-16, and no number in any spelling, appears in the bytes."""
    for value in values:
        for encoded in (value.encode(), value.encode("utf-16-le")):
            assert encoded not in raw, f"plaintext found in the database file: value #{values.index(value)}"


def sqlite_only(app_env) -> None:
    """Reading the database file is a SQLite test (PostgreSQL runs the lookups and the constraint)."""
    if not app_env["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("reads the SQLite file; PostgreSQL's files are the server's")


def test_twenty_people_leave_no_name_number_or_email_in_the_sqlite_file_or_its_wal(
    app, app_env, practice, client, inbound
):
    sqlite_only(app_env)
    secrets: list[str] = []
    for i, (first, last, phone, email) in enumerate(PEOPLE):
        if i % 5:  # most text in and staff name them; some fill in the public form with a guardian
            inbound("Hello, do you have openings?", from_=phone)
            contact = find_contact(practice.id, phone)
            contact.first_name, contact.last_name, contact.email = first, last, email
            db.session.commit()
        else:
            guardian = f"Guardianne{chr(65 + i)}ova"
            secrets.append(guardian)
            form = {"first_name": first, "last_name": last, "phone": phone, "email": email}
            response = submit(client, practice, **form, guardian_name=guardian, consent="y")
            assert response.status_code == 200, response.data
        secrets += [first, last, phone, digits(phone), email]
    stage = "Awaiting Zelda's referral letter"
    journey = db.session.scalars(select(Journey)).first()
    journey.stage = stage
    db.session.commit()
    evidence = db.session.scalars(select(ConsentEvent)).first().evidence
    assert evidence  # the web form's exact consent sentence, now sealed
    assert_nothing_readable(database_bytes(app_env["DATABASE_URL"]), [*secrets, stage])
    # ...and everyone is still found and read back whole.
    for first, last, phone, email in PEOPLE:
        contact = find_contact(practice.id, phone)
        assert (contact.first_name, contact.last_name, contact.email) == (first, last, email)
    assert db.session.get(Journey, journey.id).stage == stage


def test_a_known_number_routes_to_its_contact_and_stays_unique_within_the_practice(app, practice, inbound):
    known = factories.contact(practice, phone="+14155550142")
    journey = factories.journey(known)
    inbound("see you Tuesday", from_="+14155550142")
    assert db.session.scalars(select(Contact)).all() == [known]
    assert db.session.scalars(select(Message.journey_id)).all() == [journey.id]
    db.session.add(Contact(practice_id=practice.id, phone="+14155550142"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_same_number_in_two_practices_is_two_contacts_with_unrelated_digests(app, practice):
    other = factories.practice("Elsewhere Counseling")
    mine = factories.contact(practice, phone="+14155550142")
    theirs = factories.contact(other, phone="+14155550142")
    assert mine.phone_index != theirs.phone_index
    assert find_contact(practice.id, "+14155550142") == mine
    assert find_contact(other.id, "+14155550142") == theirs
    assert find_contact(practice.id, "+14155550143") is None


def test_a_query_comparing_a_sealed_column_is_an_error_not_an_empty_result(app):
    with pytest.raises(TypeError, match="sealed"):
        select(Contact).where(Contact.phone == "+14155550142")


def test_a_sealed_value_copied_onto_another_contact_does_not_open(app, practice):
    first = factories.contact(practice, phone="+14155550142", first_name="Amara")
    second = factories.contact(practice, phone="+14155550143", first_name="Bo")
    second.first_name_ct = first.first_name_ct
    with pytest.raises(crypto.DecryptionError):
        _ = second.first_name


# -- the migration that seals an existing database -------------------------------------------------------

PLAINTEXT_PRACTICE = """INSERT INTO practices (id, name, timezone, public_token, require_opt_in,
    send_stop_confirmation, quiet_start, quiet_end, welcome_enabled, ephi_in_popups, delete_media_at_twilio,
    created_at) VALUES (:id, :name, 'America/New_York', :token, TRUE, TRUE, 1260, 480, TRUE, TRUE, TRUE,
    '2026-01-01')"""


def plaintext_database(url, monkeypatch, contacts: int):
    """A database at the last schema before sealing, holding plaintext contacts, journeys and evidence."""
    monkeypatch.setenv("DATABASE_URL", url)
    app = create_app()
    values = []
    with app.app_context():
        upgrade(revision="0006")
        with db.engine.begin() as conn:
            for pid in (1, 2):
                conn.execute(text(PLAINTEXT_PRACTICE), {"id": pid, "name": f"P{pid}", "token": f"tok{pid}"})
            for i in range(contacts):
                first, last, phone, email = (
                    f"Ottoline{i:04d}",
                    f"Vexworth{i:04d}",
                    f"+1415555{i:04d}",
                    f"ov{i}@ex.org",
                )
                values += [first, last, phone, email]
                conn.execute(
                    text(
                        "INSERT INTO contacts (id, practice_id, phone, first_name, last_name, email, "
                        "guardian_name, consent_state, created_at) VALUES (:id, :p, :phone, :first, :last, "
                        ":email, :guardian, 'unknown', '2026-01-01')"
                    ),
                    {
                        "id": i + 1,
                        "p": 1 + i % 2,
                        "phone": phone,
                        "first": first,
                        "last": last,
                        "email": email,
                        "guardian": f"Guardwin{i:04d}" if i % 3 == 0 else None,
                    },
                )
                if i % 3 == 0:
                    values.append(f"Guardwin{i:04d}")
                conn.execute(
                    text(
                        "INSERT INTO journeys (practice_id, contact_id, pathway, stage, is_open, is_inquiry, "
                        "source, last_activity_at, created_at) VALUES (:p, :c, 'intake', :stage, TRUE, TRUE, 'sms', "
                        "'2026-01-01', '2026-01-01')"
                    ),
                    {"p": 1 + i % 2, "c": i + 1, "stage": f"Stagename{i:04d}"},
                )
                values.append(f"Stagename{i:04d}")
                conn.execute(
                    text(
                        "INSERT INTO consent_events (practice_id, contact_id, channel, state, source, evidence, "
                        "created_at) VALUES (:p, :c, 'sms', 'opted_in', 'sms_keyword', :evidence, '2026-01-01')"
                    ),
                    {"p": 1 + i % 2, "c": i + 1, "evidence": f"Evidencia{i:04d}"},
                )
                values.append(f"Evidencia{i:04d}")
        db.engine.dispose()
    return app, url, values


def assert_sealed_and_readable(app, url: str, values: list[str], contacts: int) -> None:
    """No plaintext in the file (SQLite); every contact found by number and read back whole."""
    if url.startswith("sqlite"):
        assert_nothing_readable(database_bytes(url), values)
    with app.app_context():
        columns = {column["name"] for column in inspect(db.engine).get_columns("contacts")}
        assert not {"phone", "first_name", "last_name", "email"} & columns
        for i in range(contacts):
            contact = find_contact(1 + i % 2, f"+1415555{i:04d}")
            assert (contact.first_name, contact.email) == (f"Ottoline{i:04d}", f"ov{i}@ex.org")
            assert contact.guardian_name == (f"Guardwin{i:04d}" if i % 3 == 0 else None)
        stages = sorted(j.stage for j in db.session.scalars(select(Journey)))
        assert stages == sorted(f"Stagename{i:04d}" for i in range(contacts))
        assert db.session.scalars(select(ConsentEvent)).first().evidence == "Evidencia0000"
        db.engine.dispose()


def test_the_migration_seals_every_existing_identifier_in_batches_with_progress(blank_url, monkeypatch):
    app, url, values = plaintext_database(blank_url, monkeypatch, contacts=50)
    if url.startswith("sqlite"):
        assert values[0].encode() in database_bytes(url)  # the check below can see plaintext when it is there
    monkeypatch.setenv("INBOX_SEAL_BATCH", "20")
    seen = len(ephi_watch.watch.lines)
    with app.app_context():
        upgrade()  # its log goes where the app's logging sends it (`flask db upgrade`: the terminal's stderr)
        db.engine.dispose()
    logged = "\n".join(line for name, line in ephi_watch.watch.lines[seen:] if name.startswith("alembic"))
    progress = re.findall(r"sealing contacts: \d+/\d+", logged)
    assert progress == ["sealing contacts: 20/50", "sealing contacts: 40/50", "sealing contacts: 50/50"]
    assert_sealed_and_readable(app, url, values, contacts=50)


def test_an_interrupted_sealing_resumes_where_it_stopped_and_leaves_no_plaintext(blank_url, monkeypatch):
    app, url, values = plaintext_database(blank_url, monkeypatch, contacts=30)
    monkeypatch.setenv("INBOX_SEAL_BATCH", "10")
    real_digest, calls = crypto.phone_digest, []

    def dies_in_the_third_batch(practice_id: int, e164: str) -> bytes:
        calls.append(e164)
        if len(calls) == 25:
            raise KeyboardInterrupt  # the operator's Ctrl-C, halfway through a batch
        return real_digest(practice_id, e164)

    monkeypatch.setattr(crypto, "phone_digest", dies_in_the_third_batch)
    with app.app_context(), pytest.raises(KeyboardInterrupt):
        upgrade()
    with app.app_context():
        db.engine.dispose()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007a"
        assert conn.execute(text("SELECT count(*) FROM contacts WHERE uid IS NOT NULL")).scalar() == 20
    engine.dispose()
    monkeypatch.setattr(crypto, "phone_digest", real_digest)
    with app.app_context():
        upgrade()  # the same command again goes on from contact 21
        db.engine.dispose()
    assert_sealed_and_readable(app, url, values, contacts=30)


def test_no_audit_detail_carries_an_identifier(app, practice, client, staff_client):
    submit(
        client,
        practice,
        first_name="Philippa",
        last_name="Drummondine",
        phone="(415) 555-0177",
        email="pd@example.org",
        consent="y",
    )
    journey = db.session.scalars(select(Journey)).one()
    staff_client.get(f"/api/journeys/{journey.id}")
    details = " ".join(str(d) for d in db.session.scalars(text("SELECT detail FROM audit_events")))
    assert not re.search(r"Philippa|Drummondine|pd@example|0177", details)
