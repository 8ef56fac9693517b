"""Regression guards that count SQL statements, never time: the webhook, the inbox list and a thread
page each cost a fixed number of queries, whatever the amount of data behind them (no N+1).

Each test measures a request at 3 and again at 30 journeys/messages and asserts the counts are equal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from inbox.extensions import db
from inbox.models import Attachment, Journey, Message, SafetyAlert, utcnow
from inbox.texting.inbound import follow_up_due
from tests import factories

SMALL, LARGE = 3, 30  # both fit on one inbox page (50), so only an N+1 can make the counts differ
# The inbound webhook's whole budget (the commit is not a statement), so a cut cannot quietly come
# back. A reply from a known contact: practice + duplicate check, the contact with its routed journey
# (one SELECT: the number's digest, the routing rule outer-joined), INSERT message, its search terms (one
# multi-row INSERT), UPDATE journey. Sealing the contact's identity costs nothing here. A new number
# adds the contact (and its search terms) and the inquiry with its audit event; the held welcome and its
# opt-in request are the worker's follow-up (18 statements in the request before they moved there).
INBOUND_STATEMENTS = {"known contact": 5, "new number": 8}
# The worker's follow-up of a new number (inbound.follow_up_due): find the due row, claim it (the
# compare-and-set), load its journey with contact and practice in one SELECT (three lazy loads before),
# and the held welcome with its opt-in request (whose consent badge no longer reads back the ledger
# entry it just wrote). Nothing for a reply.
FOLLOW_UP_STATEMENTS = {"known contact": 1, "new number": 13}


class StatementCounter:
    """SQL statements sent to the database while active (every connection of the app's engines: the
    main pool and the webhooks' own, inbox/database.py)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn, _cursor, statement, _params, _context, _executemany) -> None:
        """before_cursor_execute listener: keep the statement."""
        self.statements.append(statement)

    def __len__(self) -> int:
        return len(self.statements)


@contextmanager
def counting() -> Iterator[StatementCounter]:
    """Count the statements issued inside the with-block."""
    counter = StatementCounter()
    engines = list(db.engines.values())
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", counter)


def show(counter: StatementCounter) -> str:
    """The statements, one per line, for the assertion message."""
    return "\n".join(" ".join(s.split())[:160] for s in counter.statements)


def add_journeys(practice, staff_members, start: int, stop: int) -> list[Journey]:
    """Journeys `start`..`stop-1`, each with a contact, an assignee, and inbound/outbound messages with a
    reviewed photo, so that any per-row lazy load (contact, assignee, author, attachment) shows up."""
    journeys = []
    for i in range(start, stop):
        contact = factories.contact(practice, phone=f"+1415555{i:04d}", first_name=f"C{i}")
        journey = factories.journey(contact, assignee_id=staff_members[i % len(staff_members)].id)
        journeys.append(journey)
        add_messages(journey, staff_members, i, i + 1)
    return journeys


def add_messages(journey: Journey, staff_members, start: int, stop: int) -> None:
    """Messages `start`..`stop-1` in a journey: alternately inbound (with a photo) and staff replies."""
    last = None
    for i in range(start, stop):
        author = staff_members[i % len(staff_members)]
        inbound = i % 2 == 0
        last = Message(
            practice_id=journey.practice_id,
            journey_id=journey.id,
            contact_id=journey.contact_id,
            direction="inbound" if inbound else "outbound",
            kind="inbound" if inbound else "staff",
            body=f"message {i}",
            status="received" if inbound else "delivered",
            twilio_sid="SM" + uuid.uuid4().hex,
            author_id=None if inbound else author.id,
        )
        db.session.add(last)
        if inbound:
            db.session.add(
                Attachment(
                    practice_id=journey.practice_id,
                    message=last,
                    journey_id=journey.id,
                    status="ready",
                    content_type="image/jpeg",
                    # Reviewers cycle more slowly than authors: 3 messages meet fewer of them than 30.
                    reviewed_by_id=staff_members[(i // 2) % len(staff_members)].id,
                    reviewed_at=utcnow(),
                )
            )
    db.session.flush()
    journey.last_message_id, journey.last_activity_at = last.id, utcnow()
    db.session.commit()


def flag(journeys: list[Journey]) -> set[int]:
    """An open safety alert on every other journey (on its last text): the rows' red marker is read in
    the list's own SELECT, so flagged rows must cost what plain ones do."""
    flagged = journeys[::2]
    for journey in flagged:
        db.session.add(
            SafetyAlert(
                practice_id=journey.practice_id,
                journey_id=journey.id,
                contact_id=journey.contact_id,
                message_id=journey.last_message_id,
                category="suicide",
            )
        )
    db.session.commit()
    return {journey.id for journey in flagged}


@pytest.fixture
def team(practice, staff):
    """The logged-in staff member and three colleagues (distinct assignees, authors and reviewers)."""
    return [staff] + [factories.user(practice, first_name=f"S{i}") for i in range(3)]


def test_inbox_list_query_count_does_not_grow_with_journeys(staff_client, practice, team):
    flagged = flag(add_journeys(practice, team, 0, SMALL))
    staff_client.get("/api/journeys")  # warm-up: first-request work is not what we measure
    with counting() as small:
        assert len(staff_client.get("/api/journeys").get_json()["journeys"]) == SMALL

    flagged |= flag(add_journeys(practice, team, SMALL, LARGE))
    with counting() as large:
        rows = staff_client.get("/api/journeys").get_json()["journeys"]
    assert len(rows) == LARGE
    assert {row["id"] for row in rows if row["safety_open"]} == flagged

    assert len(large) == len(small), f"{SMALL} journeys:\n{show(small)}\n\n{LARGE} journeys:\n{show(large)}"


def test_thread_query_count_does_not_grow_with_messages(staff_client, practice, team):
    contact = factories.contact(practice, phone="+14155559999")
    journey = factories.journey(contact, assignee_id=team[1].id)
    url = f"/api/journeys/{journey.id}/messages"
    staff_client.get(url)  # warm-up: the first view creates the read marker
    # Both measured views then find new messages, so both move the read marker.
    add_messages(journey, team, 0, SMALL)
    with counting() as small:
        assert len(staff_client.get(url).get_json()["messages"]) == SMALL

    add_messages(journey, team, SMALL, LARGE)
    with counting() as large:
        assert len(staff_client.get(url).get_json()["messages"]) == LARGE

    assert len(large) == len(small), f"{SMALL} messages:\n{show(small)}\n\n{LARGE} messages:\n{show(large)}"


@pytest.mark.parametrize("sender", ["known contact", "new number"])
def test_inbound_webhook_query_count_does_not_grow_with_data(inbound, practice, team, sender):
    # The known contact has one open journey whose thread grows; the new number starts an inquiry.
    contact = factories.contact(practice, phone="+14155559999")
    journey = factories.journey(contact)
    add_messages(journey, team, 0, SMALL)
    add_journeys(practice, team, 0, SMALL)

    def send(n: int) -> StatementCounter:
        from_ = "+14155559999" if sender == "known contact" else f"+1415666{n:04d}"
        with counting() as counter:
            assert inbound("Hello, checking in", from_=from_, follow_up=False).status_code == 200
        with counting() as worker:
            assert follow_up_due() == (sender == "new number")  # the worker's part, outside the request
        follow_ups.append(len(worker))
        return counter

    follow_ups: list[int] = []
    send(0)  # warm-up: the first inbound from the known contact changes its consent request state
    small = send(1)
    add_messages(journey, team, SMALL, LARGE)
    add_journeys(practice, team, SMALL, LARGE)
    large = send(2)

    assert len(large) == len(small), f"small data:\n{show(small)}\n\nlarge data:\n{show(large)}"
    assert len(small) == INBOUND_STATEMENTS[sender], show(small)
    assert follow_ups[1] == follow_ups[2] == FOLLOW_UP_STATEMENTS[sender]


@pytest.mark.parametrize(("body", "statements"), [("hello", 1), ("STOP", 2)])
def test_replayed_webhook_is_one_statement_or_two_with_its_reply(inbound, practice, body, statements):
    # Twilio retries a webhook it did not hear answered: the replay must stay cheap, whatever it carries.
    # One statement finds the stored text and any reply Twilio has not confirmed; that reply is one more.
    sid = "SM" + uuid.uuid4().hex
    assert inbound(body, sid=sid, follow_up=False).status_code == 200
    with counting() as replay:
        assert inbound(body, sid=sid, follow_up=False).status_code == 200
    assert len(replay) == statements, show(replay)


@pytest.mark.parametrize("keyword", ["YES", "STOP"])
def test_consent_keyword_costs_the_same_for_5_or_50_held_texts(inbound, practice, staff, keyword):
    # YES releases every held text, STOP cancels them: one UPDATE for all, not one per text.
    from inbox.texting.outbox import compose

    def keyword_after_held(phone: str, held: int) -> StatementCounter:
        journey = factories.journey(factories.contact(practice, phone=phone))
        for i in range(held):
            assert compose(journey, f"held {i}", author=staff).status == "held_for_consent"
        db.session.commit()
        with counting() as counter:
            assert inbound(keyword, from_=phone, follow_up=False).status_code == 200
        db.session.expire_all()
        statuses = {m.status for m in db.session.scalars(db.select(Message).where(Message.kind == "staff"))}
        assert statuses == {"queued" if keyword == "YES" else "cancelled"}
        db.session.execute(db.delete(Message).where(Message.kind == "staff"))  # the next contact's only
        db.session.commit()
        return counter

    keyword_after_held("+14155550201", 1)  # warm-up: first-request work is not what we measure
    small = keyword_after_held("+14155550202", 5)
    large = keyword_after_held("+14155550203", 50)
    assert len(large) == len(small), f"5 held:\n{show(small)}\n\n50 held:\n{show(large)}"


@pytest.mark.parametrize(("hours", "extra"), [("office", 2), ("after", 4)])
def test_risk_text_costs_its_alert_and_reply_only(inbound, practice, hours, extra):
    # A plain text pays nothing for the safety net (INBOUND_STATEMENTS above is unchanged). A risk text
    # adds the alert's INSERT and its Web Push notice's; after hours also the 12-hour check and the reply's
    # INSERT.
    practice.office_days = "1234567" if hours == "office" else ""
    practice.office_start, practice.office_end = 0, 24 * 60
    contact = factories.contact(practice, phone="+14155559999")
    factories.journey(contact)
    inbound("Hello, checking in", from_="+14155559999")  # warm-up, as above
    with counting() as counter:
        assert (
            inbound("I want to kill myself tonight", from_="+14155559999", follow_up=False).status_code == 200
        )
    assert len(counter) == INBOUND_STATEMENTS["known contact"] + extra, show(counter)


@pytest.mark.parametrize(
    "path",
    [
        "/?waiting=1&mine=1",
        "/journeys/{id}",
        "/journeys/{id}?unassigned=1",
        "/api/journeys?waiting=1",
        "/api/journeys/counts",
    ],
)
def test_the_workspace_views_and_counts_cost_the_same_whatever_the_journeys(
    staff_client, practice, team, path
):
    url = path.format(id=add_journeys(practice, team, 0, SMALL)[0].id)
    staff_client.get(url)  # warm-up
    with counting() as small:
        assert staff_client.get(url).status_code == 200

    add_journeys(practice, team, SMALL, LARGE)
    with counting() as large:
        assert staff_client.get(url).status_code == 200

    assert len(large) == len(small), f"{SMALL} journeys:\n{show(small)}\n\n{LARGE} journeys:\n{show(large)}"
