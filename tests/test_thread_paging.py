"""A long thread opens on its latest page and pages back with `before`, losing and repeating nothing."""

from __future__ import annotations

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent
from inbox.texting import queries as inbox_queries
from tests import factories


def long_thread(practice, count: int):
    """A journey with `count` inbound texts, "text 0" oldest."""
    journey = factories.journey(factories.contact(practice))
    for i in range(count):
        factories.message(journey, f"text {i}")
    db.session.commit()
    return journey


def test_paging_back_walks_the_whole_thread_in_order(practice):
    journey = long_thread(practice, 12)
    seen, before = [], 0
    while True:
        page = inbox_queries.thread(journey, before=before, limit=5)
        if not page:
            break
        seen = [m.body for m in page] + seen
        before = page[0].id
    assert seen == [f"text {i}" for i in range(12)]


def test_the_api_pages_back_and_audits_each_page(practice, staff_client):
    journey = long_thread(practice, 8)
    latest = staff_client.get(f"/api/journeys/{journey.id}/messages").get_json()["messages"]
    oldest_shown = latest[3]["id"]
    earlier = staff_client.get(f"/api/journeys/{journey.id}/messages?before={oldest_shown}").get_json()
    assert [m["body"] for m in earlier["messages"]] == ["text 0", "text 1", "text 2"]
    views = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "thread.view")).all()
    assert [v["count"] for v in views] == [8, 3]
