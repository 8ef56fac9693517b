"""The suite-wide log scan (tests/ephi_watch.py) finds what it should, so its silence means something."""

from __future__ import annotations

import logging

import pytest

from tests.ephi_watch import LogWatch


@pytest.fixture
def watched():
    """A private watch on a logger that does not reach the session's own watch."""
    watch = LogWatch()
    logger = logging.getLogger("inbox.watch_self_test")
    logger.addHandler(watch)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield watch, logger
    logger.removeHandler(watch)


def test_a_remembered_body_name_or_secret_in_a_log_line_is_a_leak(watched):
    watch, logger = watched
    watch.remember("my member id is XJ-4471", "Maria", "s3cr3t-token", "Hi")
    logger.info("stored message id=7 for %s", "Maria")
    logger.warning("send failed: %s", "my member id is XJ-4471")
    logger.info("ok")  # short values and clean lines are not leaks
    assert watch.leaks() == [
        "inbox.watch_self_test: 'Maria'",
        "inbox.watch_self_test: 'my member id is XJ-4471'",
    ]


@pytest.mark.parametrize("number", ["+14155550142", "(415) 555-0142", "415-555-0142", "+1 415 555 0142"])
def test_a_patient_number_in_any_spelling_is_a_leak(watched, number):
    watch, logger = watched
    logger.info("inbound from %s", number)
    assert len(watch.leaks()) == 1


def test_tracebacks_and_subprocess_output_are_scanned(watched):
    watch, logger = watched
    watch.remember("Lopez")
    try:
        raise ValueError("contact Lopez not found")
    except ValueError:
        logger.exception("lookup failed")
    watch.add_output("server", "INFO ok\nERROR body was 'see you at 3' from +14155550100")
    assert watch.leaks() == ["inbox.watch_self_test: 'Lopez'", "server: '+14155550100'"]


def test_the_session_watch_still_hears_the_app_after_a_migration_runs(app_env, tmp_path, monkeypatch):
    # Alembic's env.py once ran fileConfig on every migration: it took the watch off the root logger and
    # disabled the app's loggers, so every test after the first in-process migration logged nothing the
    # scan could see (found when a test's expected log line went missing in the whole suite).
    from flask_migrate import upgrade

    from inbox import create_app
    from inbox.extensions import db
    from tests import ephi_watch

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    app = create_app()
    with app.app_context():
        upgrade()
        db.engine.dispose()
    logging.getLogger("inbox.texting.inbound").info("heard after a migration")
    assert ("inbox.texting.inbound", "heard after a migration") in ephi_watch.watch.lines
