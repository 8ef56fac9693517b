"""Command line: practices, staff and the demo."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from inbox.dev.demo import CONTACTS
from inbox.extensions import db
from inbox.models import Journey, Message, Practice, User


def run(app, *args, env=None):
    """Invoke a `flask --app inbox` command in the app's context."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args), env=env)


def test_demo_loads_every_pathway_once(app):
    first = run(app, "demo")
    assert first.exit_code == 0, first.output
    assert "dana@example.com" in first.output
    again = run(app, "demo")
    assert "already present" in again.output
    pathways = set(db.session.scalars(select(Journey.pathway)))
    assert pathways == {"intake", "waitlist", "current"}
    assert db.session.scalar(select(func.count(User.id))) == 2


def test_no_demo_body_is_stored_in_plain_text(app):
    run(app, "demo")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        return  # the same ciphertext column on PostgreSQL; the file check is SQLite's
    db.session.remove()
    db.engine.dispose()
    raw = b"".join(p.read_bytes() for p in Path(url.removeprefix("sqlite:///")).parent.glob("inbox.sqlite3*"))
    bodies = [body for *_, thread in CONTACTS for _direction, body in thread]
    assert bodies and db.session.scalar(select(func.count(Message.id))) == len(bodies)
    for body in bodies:
        if len(body) > 8:  # a bare keyword ("STOP") is also consent evidence, kept readable on purpose
            assert body.encode() not in raw


def test_create_practice_prints_its_public_form_url(app):
    result = run(
        app,
        "create-practice",
        "--name",
        "North Clinic",
        "--number",
        "+1 (415) 555-0000",
        "--timezone",
        "America/Los_Angeles",
    )
    assert result.exit_code == 0, result.output
    practice = db.session.scalar(select(Practice).where(Practice.name == "North Clinic"))
    assert practice.numbers[0].e164 == "+14155550000"
    assert f"/request/{practice.public_token}" in result.output
    duplicate = run(app, "create-practice", "--name", "Again", "--number", "+14155550000")
    assert duplicate.exit_code != 0 and "already" in duplicate.output


def test_create_user_takes_the_password_from_the_environment(app, practice):
    result = run(
        app,
        "create-user",
        "--practice-number",
        "+15005550006",
        "--email",
        "New@Example.com",
        "--role",
        "admin",
        env={"INBOX_NEW_PASSWORD": "a long enough password"},
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user.role == "admin" and user.password_hash.startswith("$argon2")
    short = run(
        app,
        "create-user",
        "--practice-number",
        "+15005550006",
        "--email",
        "x@example.com",
        env={"INBOX_NEW_PASSWORD": "short"},
    )
    assert short.exit_code != 0
