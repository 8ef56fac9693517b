"""The migrations build exactly the schema the models describe, on every database we support."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect

from inbox import create_app
from inbox.extensions import db


def test_upgrade_on_an_empty_database_matches_the_models(app_env, monkeypatch, tmp_path):
    if not app_env["DATABASE_URL"].startswith("sqlite"):
        # PostgreSQL: a schema of its own, so the suite's create_all tables do not interfere.
        import uuid

        import psycopg

        name = f"inbox_mig_{uuid.uuid4().hex[:8]}"
        admin = app_env["DATABASE_URL"].rsplit("/", 1)[0].replace("+psycopg", "") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = app_env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    app = create_app()
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata
            )
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert diff == []
    assert {"messages", "contacts", "journeys", "consent_events", "audit_events", "attachments"} <= tables
    if not url.startswith("sqlite"):
        import psycopg

        create_engine(url).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    ("table", "column", "bad"),
    [
        ("messages", "status", "lost"),
        ("messages", "kind", "spam"),
        ("contacts", "consent_state", "maybe"),
        ("journeys", "pathway", "elsewhere"),
    ],
)
def test_the_database_refuses_a_word_outside_the_vocabulary(app, practice, table, column, bad):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from tests import factories

    journey = factories.journey(factories.contact(practice))
    factories.message(journey, "Hello")
    db.session.commit()
    row_id = {"messages": None, "contacts": journey.contact_id, "journeys": journey.id}.get(table)
    where = f"id = {row_id}" if row_id else "1 = 1"
    with pytest.raises(IntegrityError):
        db.session.execute(text(f"UPDATE {table} SET {column} = :bad WHERE {where}"), {"bad": bad})  # noqa: S608
        db.session.flush()
    db.session.rollback()
