"""A view whose transaction PostgreSQL ends as a deadlock or serialization failure runs again, and a
staff view that keeps losing answers its 409 "try again", never a 500 (common/transactions.py). The real
deadlock, through the real webhook, is in test_consent_races.py (PostgreSQL only)."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from inbox.common import transactions


def failing(*errors: Exception):
    """A view that raises each error in turn, then answers 200; and the list of its calls."""
    calls: list[int] = []

    def view():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "stored", 200

    return view, calls


def ended(orig: Exception) -> OperationalError:
    """What SQLAlchemy raises when PostgreSQL ends the transaction with `orig`."""
    return OperationalError("UPDATE ...", {}, orig)


@pytest.mark.parametrize(
    "orig", [psycopg.errors.DeadlockDetected("deadlock"), psycopg.errors.SerializationFailure("conflict")]
)
def test_a_deadlocked_or_conflicting_transaction_runs_again(app, orig):
    view, calls = failing(ended(orig), ended(orig))
    assert transactions.retried()(view)() == ("stored", 200)
    assert len(calls) == 3


def test_a_staff_view_that_keeps_losing_answers_its_busy_answer(app):
    view, calls = failing(*[ended(psycopg.errors.DeadlockDetected("deadlock"))] * 10)
    assert transactions.retried(busy=lambda: ("try again", 409))(view)() == ("try again", 409)
    assert len(calls) == transactions.ATTEMPTS


def test_a_webhook_that_keeps_losing_raises(app):
    view, calls = failing(*[ended(psycopg.errors.DeadlockDetected("deadlock"))] * 10)
    with pytest.raises(OperationalError):
        transactions.retried()(view)()
    assert len(calls) == transactions.ATTEMPTS


def test_other_database_errors_are_not_retried(app):
    view, calls = failing(IntegrityError("INSERT ...", {}, psycopg.errors.UniqueViolation("duplicate")))
    with pytest.raises(IntegrityError):
        transactions.retried(busy=lambda: ("try again", 409))(view)()
    assert len(calls) == 1
