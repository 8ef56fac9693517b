"""Counters taken atomically, before the work they limit: one row per key in throttle_counters.

A request reserves its attempt first (an UPDATE whose WHERE is the limit, so the database lets exactly
as many through as the limit allows, however many arrive at once, in every process) and only then does
the expensive or guarded work. Counting afterwards let 40 simultaneous login attempts all pass a count
of zero. Each reservation is a short transaction committed at once, so every other request sees it;
it runs on the request's own session (a second connection per request would exhaust the pool under
exactly the bursts this is for), so callers reserve before any work of their own is pending.

Two kinds of counter: `take_limited` (a hard limit per window: per address) and `take_delayed` (a few
attempts at once, then a growing wait between attempts: per account). `tally` counts events per source
and minute, so that a flood of refused requests leaves a count and a sample instead of a row each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask_sqlalchemy.session import Session
from sqlalchemy import Row, Table, case, delete, literal, select, update
from sqlalchemy.orm import scoped_session
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from inbox.extensions import db, rowcount
from inbox.models import ThrottleCounter, UTCDateTime, utcnow

# Declarative models type __table__ as a FromClause; a mapped class's table is always a Table.
TABLE = cast(Table, ThrottleCounter.__table__)
KEEP = timedelta(days=30)  # counters and tallies untouched this long are purged by the worker


@dataclass(frozen=True)
class Taken:
    """Whether the attempt may go ahead, and if not, in how many seconds it may try again."""

    ok: bool
    retry_after: int = 0


@contextmanager
def _committed() -> Iterator[scoped_session[Session]]:
    """The session, committed as soon as the block ends (rolled back if it fails)."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _insert_missing(conn: scoped_session[Session], key: str, now: datetime) -> None:
    """Create the key's row at zero unless it exists (an upsert, so two first attempts cannot both insert)."""
    if conn.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        upsert: Any = pg_insert(TABLE)  # both dialects' Insert have on_conflict_do_nothing
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        upsert = sqlite_insert(TABLE)
    conn.execute(
        upsert.values(
            key=key, count=0, window_start=now, next_at=None, updated_at=now
        ).on_conflict_do_nothing(index_elements=["key"])
    )


def _at(moment: datetime) -> BindParameter[datetime]:
    """A timestamp bound as the column type (UTC, the same text form on SQLite)."""
    return literal(moment, type_=UTCDateTime)


def _row(conn: scoped_session[Session], key: str) -> Row[Any]:
    """The key's counter as it is now."""
    return conn.execute(select(TABLE).where(TABLE.c.key == key)).one()


def _seconds(until: datetime | None, now: datetime) -> int:
    """Whole seconds from now until a moment (at least 1)."""
    return max(1, int((until - now).total_seconds() + 0.999)) if until else 1


def take_limited(key: str, limit: int, window: timedelta, now: datetime | None = None) -> Taken:
    """Take one of `limit` attempts per `window` (the window starts with its first attempt)."""
    now = now or utcnow()
    with _committed() as conn:
        _insert_missing(conn, key, now)
        conn.execute(
            update(TABLE)
            .where(TABLE.c.key == key, TABLE.c.window_start <= now - window)
            .values(count=0, window_start=now, next_at=None)
        )
        won = rowcount(
            conn.execute(
                update(TABLE)
                .where(TABLE.c.key == key, TABLE.c.count < limit)
                .values(count=TABLE.c.count + 1, updated_at=now)
            )
        )
        if won:
            return Taken(True)
        return Taken(False, _seconds(_row(conn, key).window_start + window, now))


def take_delayed(
    key: str, free: int, delays: Sequence[timedelta], quiet: timedelta, now: datetime | None = None
) -> Taken:
    """Take an attempt: the first `free` go at once; from then on each one sets the wait before the next,
    `delays[0]`, `delays[1]`... (the last one repeats). `quiet` without attempts starts afresh."""
    now = now or utcnow()
    # The wait that attempt number count+1 imposes, as SQL over the row's current count.
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [
        (TABLE.c.count + 1 < free, TABLE.c.next_at)
    ]
    whens += [(TABLE.c.count + 1 == free + n, _at(now + delay)) for n, delay in enumerate(delays[:-1])]
    next_at = case(*whens, else_=_at(now + delays[-1]))
    ready = TABLE.c.next_at.is_(None) | (TABLE.c.next_at <= now)
    with _committed() as conn:
        _insert_missing(conn, key, now)
        conn.execute(
            update(TABLE)
            .where(TABLE.c.key == key, TABLE.c.updated_at <= now - quiet, ready)
            .values(count=0, window_start=now, next_at=None)
        )
        won = rowcount(
            conn.execute(
                update(TABLE)
                .where(TABLE.c.key == key, ready)
                .values(count=TABLE.c.count + 1, next_at=next_at, updated_at=now)
            )
        )
        if won:
            return Taken(True)
        return Taken(False, _seconds(_row(conn, key).next_at, now))


def give_back(key: str) -> None:
    """Return one reserved attempt (it turned out not to be a failure)."""
    with _committed() as conn:
        conn.execute(
            update(TABLE).where(TABLE.c.key == key, TABLE.c.count > 0).values(count=TABLE.c.count - 1)
        )


def reset(key: str) -> None:
    """Start the key afresh: no attempts counted, no wait."""
    with _committed() as conn:
        conn.execute(update(TABLE).where(TABLE.c.key == key).values(count=0, next_at=None))


def tally(kind: str, source: str | None, now: datetime | None = None) -> int:
    """Count one event of `kind` from `source` in the current minute; returns its number in that minute."""
    now = now or utcnow()
    key = f"tally:{kind}:{source or '-'}:{now:%Y%m%d%H%M}"[:96]
    with _committed() as conn:
        _insert_missing(conn, key, now)
        conn.execute(update(TABLE).where(TABLE.c.key == key).values(count=TABLE.c.count + 1, updated_at=now))
        return _row(conn, key)._mapping["count"]  # Row's stub types .count as tuple.count


def purge(now: datetime | None = None) -> int:
    """Forget counters nobody touched for KEEP (the worker's sweep calls this)."""
    cutoff = (now or utcnow()) - KEEP
    with _committed() as conn:
        return rowcount(conn.execute(delete(TABLE).where(TABLE.c.updated_at < cutoff)))
