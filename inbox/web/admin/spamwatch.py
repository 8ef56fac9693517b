"""Spam watch: a practice's texts, errors and opt-outs per day, and a warning when opt-outs spike.

Carriers filter, and may block, a number whose traffic draws many opt-outs, so an admin should see
a rise before the carrier does. Days are the practice's own (its time zone): the day boundaries are
computed here and the database only sorts timestamps between them, which works the same on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Case, ColumnElement, Select, Subquery, case, func, literal, select

from inbox.common import audit
from inbox.extensions import db
from inbox.models import ConsentEvent, Message, Practice, utcnow
from inbox.vocabulary import CARRIED, FAILED_STATUSES, ConsentState, Direction, Kind
from inbox.web.auth import admin_required

bp = Blueprint("spamwatch", __name__, url_prefix="/admin")
DAYS = 30
RECENT_DAYS = 7
# The spike rule (shown on the page): over the last RECENT_DAYS, at least MIN_OPT_OUTS opt-outs, and
# either RELATIVE times the rate of the days before, or at least ABSOLUTE per 100 texts sent.
MIN_OPT_OUTS = 3
RELATIVE = 2.0
ABSOLUTE = 1.5
# Texts that went to the carrier with an outcome; undelivered and failed are the errors.
SENT = CARRIED
ERRORS = FAILED_STATUSES
OPT_OUT_SOURCES = {
    "sms_keyword": "by text (STOP)",
    "sms_language": "in their own words (confirmed by staff)",
    "carrier_error": "by the carrier",
    "staff_manual": "by staff",
}


@dataclass(frozen=True)
class Tally:
    """Texts sent, errors and opt-outs over some days, with their rates."""

    sent: int = 0
    errors: int = 0
    opt_outs: int = 0

    def __add__(self, other: Tally) -> Tally:
        """Sum two tallies."""
        return Tally(self.sent + other.sent, self.errors + other.errors, self.opt_outs + other.opt_outs)

    @property
    def opt_out_rate(self) -> float | None:
        """Opt-outs per 100 texts sent (None when nothing was sent)."""
        return 100 * self.opt_outs / self.sent if self.sent else None

    @property
    def error_rate(self) -> float | None:
        """Undelivered or failed, as a percentage of texts sent."""
        return 100 * self.errors / self.sent if self.sent else None


@dataclass(frozen=True)
class Day(Tally):
    """One day of the practice's calendar."""

    day: date | None = None


@dataclass(frozen=True)
class Report:
    """The last DAYS days, oldest first, the opt-outs by source, and the spike rule's verdict."""

    days: list[Day]
    by_source: dict[str, int]
    recent: Tally
    before: Tally
    spike: bool
    # Not a spike (too few opt-outs to mean much) but a rate over the absolute line: never shown as fine.
    watch: bool = False


def day_starts(tz: ZoneInfo, today: date, days: int) -> list[datetime]:
    """The UTC instants at which each of the last `days` local days begins, plus the end of today."""
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)] + [today + timedelta(days=1)]
    # Each midnight is resolved in its own day's offset, so a DST change gives a 23- or 25-hour day.
    return [datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC) for d in dates]


def _bucketed(column: ColumnElement[datetime], starts: list[datetime]) -> Case[int]:
    """SQL: the index of the local day a UTC timestamp falls in (the rows are already within range)."""
    return case(*[(column < start, index) for index, start in enumerate(starts[1:])], else_=literal(-1))


def _per_day(
    query: Select[*tuple[Any, ...]],
    when: ColumnElement[datetime],
    starts: list[datetime],
    *sums: ColumnElement[int],
) -> dict[int, tuple]:
    """GROUP BY local day: the sums of the rows of `query` whose `when` falls within the days."""
    labelled = [expr.label(f"s{n}") for n, expr in enumerate(sums)]
    rows = query.add_columns(_bucketed(when, starts).label("day"), *labelled)
    inner = rows.where(when >= starts[0], when < starts[-1]).subquery()
    # Grouped in an outer query, so PostgreSQL sees one expression (the CASE binds its own parameters).
    totals = [func.sum(inner.c[f"s{n}"]) for n in range(len(sums))]
    return {
        day: tuple(values)
        for day, *values in db.session.execute(select(inner.c.day, *totals).group_by(inner.c.day))
    }


def _opt_outs(practice: Practice) -> tuple[Subquery, ColumnElement[bool]]:
    """Consent events that move a contact to opted_out (a repeated STOP is not a second opt-out)."""
    previous = func.lag(ConsentEvent.state).over(
        partition_by=ConsentEvent.contact_id, order_by=ConsentEvent.id
    )
    ledger = (
        select(ConsentEvent.state, ConsentEvent.source, ConsentEvent.created_at, previous.label("previous"))
        .where(ConsentEvent.practice_id == practice.id, ConsentEvent.channel == "sms")
        .subquery()
    )
    return ledger, (ledger.c.state == ConsentState.OPTED_OUT) & (
        ledger.c.previous.is_(None) | (ledger.c.previous != ConsentState.OPTED_OUT)
    )


def report(practice: Practice, now: datetime | None = None, days: int = DAYS) -> Report:
    """Per local day for the last `days` days: outbound texts sent, errors, opt-outs; and the spike rule."""
    tz = ZoneInfo(practice.timezone)
    today = (now or utcnow()).astimezone(tz).date()
    starts = day_starts(tz, today, days)
    when = func.coalesce(Message.handed_over_at, Message.created_at)
    messages = _per_day(
        select()
        .select_from(Message)
        .where(
            Message.practice_id == practice.id,
            Message.direction == Direction.OUTBOUND,
            Message.kind != Kind.KEYWORD_REPLY,  # the answer to a STOP is not traffic we started
            Message.status.in_(SENT),
        ),
        when,
        starts,
        literal(1),
        case((Message.status.in_(ERRORS), 1), else_=0),
    )
    ledger, moved_to_opted_out = _opt_outs(practice)
    opt_outs = _per_day(
        select().select_from(ledger).where(moved_to_opted_out), ledger.c.created_at, starts, literal(1)
    )
    by_source: dict[str, int] = dict(
        db.session.execute(
            select(ledger.c.source, func.count())
            .where(moved_to_opted_out, ledger.c.created_at >= starts[0], ledger.c.created_at < starts[-1])
            .group_by(ledger.c.source)
        ).all()
    )
    series = [
        Day(
            sent=int(messages.get(n, (0, 0))[0]),
            errors=int(messages.get(n, (0, 0))[1]),
            opt_outs=int(opt_outs.get(n, (0,))[0]),
            day=today - timedelta(days=days - 1 - n),
        )
        for n in range(days)
    ]
    recent, before = sum(series[-RECENT_DAYS:], Tally()), sum(series[:-RECENT_DAYS], Tally())
    spike = is_spike(recent, before)
    return Report(series, by_source, recent, before, spike=spike, watch=not spike and is_high(recent))


def is_high(recent: Tally) -> bool:
    """Some opt-outs lately at a rate over the absolute line, however few (1 in 4 texts is 25 per 100)."""
    rate = recent.opt_out_rate
    return recent.opt_outs > 0 and (rate is None or rate >= ABSOLUTE)


def is_spike(recent: Tally, before: Tally) -> bool:
    """The spike rule: enough opt-outs lately, at a rate well above the days before or high outright.

    At least MIN_OPT_OUTS opt-outs in the recent days, and their rate per 100 texts sent is at least
    RELATIVE times the earlier days' rate, or at least ABSOLUTE. Opt-outs with no texts sent at all
    count as a spike: people are opting out of something.
    """
    if recent.opt_outs < MIN_OPT_OUTS:
        return False
    rate = recent.opt_out_rate
    if rate is None or rate >= ABSOLUTE:
        return True
    return rate >= RELATIVE * (before.opt_out_rate or 0.0)


@bp.get("/spam-watch")
@admin_required
def index() -> ResponseReturnValue:
    """The practice's opt-out and error rates over the last 30 days, as a chart and a table."""
    practice = db.session.get(Practice, current_user.practice_id)
    assert practice is not None  # the logged-in user's own practice
    data = report(practice)
    audit.record("spamwatch.view", practice, practice_id=practice.id)
    db.session.commit()
    return render_template(
        "admin/spam_watch.html",
        report=data,
        practice=practice,
        sources=OPT_OUT_SOURCES,
        rule={"min": MIN_OPT_OUTS, "relative": RELATIVE, "absolute": ABSOLUTE, "recent": RECENT_DAYS},
    )
