"""Running a request's transaction again when PostgreSQL ends it to break a deadlock or a serialization
conflict (SQLSTATE 40P01, 40001), instead of answering 500.

Such a transaction stored nothing and announced nothing (pushes go out after a commit), so running the
whole view again is safe: it re-reads the request and the rows, and the second try usually finds the
other transaction committed. Twilio does not retry a webhook that answered 500: without this, a text
that lost such a race was gone.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec

from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError

from inbox.extensions import db

log = logging.getLogger(__name__)

ATTEMPTS = 4  # the first try and three more
RETRYABLE = {"40P01": "deadlock", "40001": "serialization failure"}

P = ParamSpec("P")  # a wrapped view's parameters


def conflict(exc: BaseException) -> str | None:
    """ "deadlock" or "serialization failure" when the database ended the transaction for one (worth
    another try), else None."""
    if not isinstance(exc, DBAPIError):
        return None
    return RETRYABLE.get(getattr(exc.orig, "sqlstate", None) or "")


def retried(
    busy: Callable[[], ResponseReturnValue] | None = None,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """Run the view again (rolled back, after a short random pause) when the database ends its
    transaction as a deadlock or serialization failure; after ATTEMPTS, answer `busy()` (a staff page's
    409 "try again"), or without one let the error be the 500 it is."""

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return view(*args, **kwargs)
                except DBAPIError as exc:
                    why = conflict(exc)
                    if why is None:
                        raise
                    db.session.rollback()
                    log.warning("%s in %s, attempt %d of %d", why, view.__name__, attempt, ATTEMPTS)
                    if attempt == ATTEMPTS:
                        if busy is None:
                            raise
                        return busy()
                    # Apart, so two transactions that collided do not collide again in step.
                    time.sleep(random.uniform(0.005, 0.05) * attempt)
            raise AssertionError("unreachable")  # the loop returns or raises

        return wrapped

    return decorate
