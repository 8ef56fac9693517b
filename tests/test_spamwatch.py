"""Spam watch: per-day texts, errors and opt-outs in the practice's own days, and the spike warning."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent
from inbox.texting import consent
from inbox.web.admin import spamwatch
from tests import factories
from tests.conftest import StaffClient

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=NY)  # a Friday afternoon, after the DST change of 1 Nov
TODAY = NOW.date()
PHONES = (f"+1628555{n:04d}" for n in itertools.count())


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in New York, as an aware datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def texts(journey, when: datetime, n: int = 1, status: str = "delivered", **fields) -> None:
    """`n` outbound texts of the journey handed to Twilio at `when`."""
    for _ in range(n):
        factories.message(
            journey,
            "See you Tuesday",
            "outbound",
            status=status,
            created_at=when - timedelta(minutes=5),
            handed_over_at=when,
            **fields,
        )
    db.session.commit()


def opt_outs(practice, when: datetime, n: int = 1, source: str = "sms_keyword") -> None:
    """`n` contacts of the practice opting out at `when`."""
    for _ in range(n):
        contact = factories.contact(practice, phone=next(PHONES))
        event = consent.record(contact, "opted_out", source, evidence="STOP")
        event.created_at = when
    db.session.commit()


def day(report, which: date) -> spamwatch.Day:
    """The report's row for a local date."""
    return next(d for d in report.days if d.day == which)


@pytest.fixture
def journey(practice):
    """A journey of the practice (New York time)."""
    return factories.journey(factories.contact(practice, phone="+14155550001"))


def test_counts_land_on_the_practice_s_local_day(app, practice, journey):
    yesterday = TODAY - timedelta(days=1)
    texts(journey, local(yesterday, 23, 30))  # 04:30 UTC today: still yesterday in New York
    texts(journey, local(TODAY, 0, 10), status="undelivered")
    texts(journey, local(TODAY, 9), status="failed")
    texts(journey, local(TODAY, 10), status="queued")  # not sent yet
    texts(journey, local(TODAY, 10), kind="keyword_reply", status="sent")  # the answer to a STOP
    opt_outs(practice, local(yesterday, 23, 45))

    report = spamwatch.report(practice, NOW)

    assert len(report.days) == 30 and report.days[-1].day == TODAY
    assert report.days[0].day == TODAY - timedelta(days=29)
    assert (day(report, yesterday).sent, day(report, yesterday).opt_outs) == (1, 1)
    assert day(report, yesterday).opt_out_rate == 100.0
    assert (day(report, TODAY).sent, day(report, TODAY).errors) == (2, 2)
    assert day(report, TODAY).error_rate == 100.0 and day(report, TODAY).opt_out_rate == 0.0
    assert sum(d.sent for d in report.days) == 3
    assert report.by_source == {"sms_keyword": 1}


def test_days_across_a_dst_change_and_outside_the_window(app, practice, journey):
    # 1 Nov 2026 is 25 hours long in New York; 23:30 that night is 04:30 UTC on the 2nd.
    texts(journey, local(date(2026, 11, 1), 23, 30))
    texts(journey, local(date(2026, 11, 2), 0, 30))
    texts(journey, local(TODAY - timedelta(days=30), 12))  # a day too old for the chart

    report = spamwatch.report(practice, NOW)

    assert day(report, date(2026, 11, 1)).sent == 1 and day(report, date(2026, 11, 2)).sent == 1
    assert sum(d.sent for d in report.days) == 2


def test_only_moves_to_opted_out_count_and_other_practices_are_excluded(app, practice, journey):
    contact = journey.contact
    consent.record(contact, "opted_out", "sms_keyword", evidence="STOP")
    consent.record(contact, "opted_out", "staff_manual")  # already out: not a second opt-out
    consent.record(contact, "opted_in", "sms_keyword", evidence="START")
    consent.record(contact, "opted_out", "carrier_error", evidence="Twilio error 21610")
    other = factories.practice(name="Other", number="+15005550111")
    other_journey = factories.journey(factories.contact(other))
    texts(other_journey, NOW - timedelta(hours=1), n=4)
    opt_outs(other, NOW - timedelta(hours=1), n=3)
    db.session.commit()

    report = spamwatch.report(practice, datetime.now(UTC))

    assert report.recent.opt_outs == 2 and report.recent.sent == 0
    assert report.by_source == {"sms_keyword": 1, "carrier_error": 1}


@pytest.mark.parametrize(
    ("recent_texts", "recent_opt_outs", "before_texts", "before_opt_outs", "spike"),
    [
        (400, 3, 2000, 2, True),  # 0.75 per 100 against 0.1: a rise
        (400, 3, 2000, 10, False),  # 0.75 against 0.5: not twice
        (100, 2, 2000, 0, False),  # 2 per 100, but too few opt-outs to mean anything
        (200, 4, 300, 5, True),  # 2 per 100 against 1.67: under twice, over the absolute line
        (0, 3, 500, 1, True),  # opt-outs while nothing went out
        (0, 0, 0, 0, False),
    ],
)
def test_the_spike_rule(
    app, practice, journey, recent_texts, recent_opt_outs, before_texts, before_opt_outs, spike
):
    recent, before = NOW - timedelta(days=2), NOW - timedelta(days=15)
    texts(journey, recent, n=recent_texts)
    texts(journey, before, n=before_texts)
    opt_outs(practice, recent, n=recent_opt_outs)
    opt_outs(practice, before, n=before_opt_outs)

    report = spamwatch.report(practice, NOW)

    assert (report.recent.sent, report.recent.opt_outs) == (recent_texts, recent_opt_outs)
    assert (report.before.sent, report.before.opt_outs) == (before_texts, before_opt_outs)
    assert report.spike is spike


def test_the_page_warns_on_a_spike_and_is_audited(app, practice, journey):
    admin = factories.user(practice, email="admin@example.com", role="admin")
    browser = StaffClient(app.test_client())
    browser.login(admin.email)
    quiet = browser.get("/admin/spam-watch")
    assert quiet.status_code == 200
    assert b'id="spike-ok"' in quiet.data and b'id="spike-warning"' not in quiet.data
    assert b'href="/admin/spam-watch"' in quiet.data  # listed in the admin nav

    just_now = datetime.now(UTC) - timedelta(minutes=1)
    texts(journey, just_now, n=10)
    opt_outs(practice, just_now, n=3)
    page = browser.get("/admin/spam-watch")

    assert b'id="spike-warning"' in page.data and b'role="alert"' in page.data
    content = page.data.split(b"<main")[1].split(b"</main>")[0]
    assert content.count(b"<svg") == 2 and b"<script" not in content and b" style=" not in content
    assert b'<tr data-day="' in page.data and b"30.0</td>" in page.data  # 3 per 100 today
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "spamwatch.view")).all()
    assert [e.user_id for e in events] == [admin.id, admin.id]


def test_staff_get_403_and_anonymous_visitors_go_to_login(app, staff_client, client):
    assert staff_client.get("/admin/spam-watch").status_code == 403
    anonymous = client.get("/admin/spam-watch")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
