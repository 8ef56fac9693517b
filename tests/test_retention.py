"""Retention: a practice's policy purges exactly what outlived it, here and at Twilio, and says so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from inbox import worker
from inbox.extensions import db
from inbox.gateway.rest import TwilioGateway
from inbox.media import attachments
from inbox.models import Attachment, AuditEvent, Message, utcnow
from inbox.presenters import message_json
from inbox.records import retention
from tests import factories
from tests.fake_twilio import new_sid
from tests.test_cli import run

NOW = utcnow()
DAY = timedelta(days=1)


@pytest.fixture
def journey(practice):
    """A journey of the practice, with a 30-day retention policy."""
    practice.retention_days = 30
    db.session.commit()
    return factories.journey(factories.contact(practice))


def message(
    journey, age: timedelta, direction: str = "inbound", status: str = "received", **fields
) -> Message:
    """A message of the journey, created `age` before NOW."""
    body = fields.pop("body", "my member id is XZ-5531")
    msg = factories.message(journey, body, direction, status=status, created_at=NOW - age, **fields)
    db.session.commit()
    return msg


def at_twilio(fake_twilio, msg: Message) -> Message:
    """Give the message a SID that Twilio still holds a copy of."""
    msg.twilio_sid = new_sid("SM")
    fake_twilio.messages[msg.twilio_sid] = {"sid": msg.twilio_sid}
    db.session.commit()
    return msg


def photo(fake_twilio, msg: Message, **fields) -> Attachment:
    """A stored photo of the message (both blobs on disk), its original still at Twilio."""
    att = Attachment(
        practice_id=msg.practice_id,
        message_id=msg.id,
        journey_id=msg.journey_id,
        status="ready",
        content_type="image/jpeg",
        has_thumbnail=True,
        source_url=fake_twilio.add_media(msg.twilio_sid or new_sid("MM"), b"card", "image/jpeg"),
        **fields,
    )
    db.session.add(att)
    db.session.flush()
    attachments.write_blob(att, "original", b"insurance card front")
    attachments.write_blob(att, "thumb", b"insurance card thumb")
    db.session.commit()
    return att


def raw_body(msg: Message) -> bytes | None:
    """The ciphertext column as the database holds it."""
    return db.session.execute(text("SELECT body_ct FROM messages WHERE id = :id"), {"id": msg.id}).scalar()


def blobs(app) -> list[Path]:
    """Every media blob on disk."""
    return sorted(Path(app.config["INBOX_MEDIA_DIR"]).rglob("*.*"))


def purge_events() -> list[AuditEvent]:
    """The retention runs the audit trail recorded."""
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.purge")).all()


def test_purges_exactly_what_is_older_than_the_window(app, journey, gateway):
    window = 30 * DAY
    old_in = message(journey, window + timedelta(seconds=1))
    new_in = message(journey, window - timedelta(seconds=1))
    old_out = message(journey, window + DAY, "outbound", "delivered")
    old_failed = message(journey, window + DAY, "outbound", "failed")
    in_flight = [
        message(journey, window + DAY, "outbound", status)
        for status in ("held_for_consent", "queued", "sending", "unconfirmed")
    ]
    activity = message(journey, window + DAY, "activity", "logged", body="Dana moved this journey")

    counts = retention.purge_practice(journey.contact.practice, gateway, NOW)

    assert (counts.found, counts.purged) == (3, 3)
    db.session.expire_all()
    for msg in (old_in, old_out, old_failed):
        assert raw_body(msg) is None and msg.purged_at == NOW and msg.redacted_at is None
    for msg in (new_in, *in_flight):
        assert msg.body == "my member id is XZ-5531" and msg.purged_at is None
    assert activity.body == "Dana moved this journey"
    tombstone = message_json(old_in)
    assert tombstone["body"] is None and tombstone["purged_at"] == NOW.isoformat()
    [event] = purge_events()
    assert event.user_id is None and event.practice_id == journey.practice_id
    assert event.detail["purged"] == 3 and event.detail["retention_days"] == 30


def test_leaves_no_trace_of_body_or_photo_on_disk_or_at_twilio(app, journey, gateway, fake_twilio):
    msg = at_twilio(fake_twilio, message(journey, 31 * DAY, body=""))
    att = photo(fake_twilio, msg)
    media_sid = att.source_url.rsplit("/", 1)[1]
    assert len(blobs(app)) == 2

    counts = retention.purge_practice(journey.contact.practice, gateway, NOW)

    assert (counts.purged, counts.photos, counts.twilio_deleted, counts.twilio_pending) == (1, 1, 2, 0)
    assert blobs(app) == []
    assert fake_twilio.deleted_media == [media_sid] and fake_twilio.deleted_messages == [msg.twilio_sid]
    db.session.expire_all()
    assert (att.status, att.source_url, att.has_thumbnail) == ("purged", None, False)
    assert msg.twilio_deleted_at is not None
    assert message_json(msg)["attachments"][0]["url"] is None


def test_a_failed_twilio_deletion_is_retried_on_the_next_run(app, journey, fake_twilio):
    first = at_twilio(fake_twilio, message(journey, 40 * DAY))
    second = at_twilio(fake_twilio, message(journey, 35 * DAY))
    gone = message(journey, 33 * DAY, twilio_sid=new_sid("SM"))  # Twilio answers 404: already deleted
    fake_twilio.stop()  # Twilio unreachable

    down = TwilioGateway(fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url)
    counts = retention.purge_practice(journey.contact.practice, down, NOW)

    # Purged here regardless; after the first failure the run stops calling a Twilio that is down.
    assert (counts.purged, counts.twilio_deleted, counts.twilio_failed, counts.twilio_pending) == (3, 0, 1, 3)
    db.session.expire_all()
    assert all(raw_body(m) is None for m in (first, second, gone))

    fake_twilio.start()
    back = TwilioGateway(fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url)
    counts = retention.purge_practice(journey.contact.practice, back, NOW + DAY)

    assert (counts.found, counts.purged, counts.twilio_deleted, counts.twilio_pending) == (0, 0, 3, 0)
    assert sorted(fake_twilio.deleted_messages) == sorted([first.twilio_sid, second.twilio_sid])
    db.session.expire_all()
    assert all(m.twilio_deleted_at is not None for m in (first, second, gone))
    assert first.purged_at == NOW  # the tombstone keeps the date the body went
    assert len(purge_events()) == 2


def test_a_redaction_whose_twilio_deletion_failed_is_retried_too(app, practice, fake_twilio, gateway):
    journey = factories.journey(factories.contact(practice))  # no retention policy
    msg = at_twilio(fake_twilio, message(journey, DAY))
    msg.redacted_at = NOW  # as redaction leaves it when Twilio did not answer
    msg.body = None
    db.session.commit()

    counts = retention.purge_practice(practice, gateway, NOW)

    assert (counts.purged, counts.twilio_deleted) == (0, 1)
    assert fake_twilio.deleted_messages == [msg.twilio_sid]


@pytest.mark.parametrize("delete_at_twilio", [True, False])
def test_a_stored_photo_left_at_twilio_follows_the_practice_setting(
    app, practice, fake_twilio, gateway, delete_at_twilio
):
    practice.delete_media_at_twilio = delete_at_twilio
    journey = factories.journey(factories.contact(practice))  # no retention policy: nothing is purged
    att = photo(fake_twilio, message(journey, DAY), created_at=NOW - timedelta(hours=1))

    retention.purge_practice(practice, gateway, NOW)

    db.session.expire_all()
    assert att.status == "ready" and len(blobs(app)) == 2
    assert (att.source_url is None) is delete_at_twilio
    assert len(fake_twilio.deleted_media) == int(delete_at_twilio)


def test_practices_without_a_policy_or_with_their_own_window_are_independent(app, practice, gateway):
    keeps_forever = factories.journey(factories.contact(practice))
    weekly = factories.practice(name="Weekly", number="+15005550101", retention_days=7)
    monthly = factories.practice(name="Monthly", number="+15005550102", retention_days=30)
    msgs = {
        name: message(factories.journey(factories.contact(p)), 10 * DAY)
        for name, p in (("weekly", weekly), ("monthly", monthly))
    }
    msgs["forever"] = message(keeps_forever, 1000 * DAY)

    assert retention.sweep(gateway, NOW) is False

    db.session.expire_all()
    assert msgs["weekly"].purged_at is not None
    assert msgs["monthly"].body and msgs["forever"].body
    assert [e.practice_id for e in purge_events()] == [weekly.id]


def test_a_bounded_pass_resumes_where_it_stopped_and_purges_nothing_twice(app, journey, gateway):
    msgs = [message(journey, (31 + i) * DAY) for i in range(5)]
    practice = journey.contact.practice

    assert retention.sweep(gateway, NOW, limit=3) is True
    assert retention.sweep(gateway, NOW, limit=3) is False
    assert retention.purge_practice(practice, gateway, NOW).purged == 0

    db.session.expire_all()
    assert all(m.purged_at is not None for m in msgs)
    assert [e.detail["purged"] for e in purge_events()] == [3, 2]  # the idle third run is not audited


def test_cli_dry_run_counts_and_changes_nothing(app, journey):
    old = message(journey, 31 * DAY)
    message(journey, 32 * DAY, "outbound", "delivered")

    result = run(app, "purge", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "found 2 messages to purge" in result.output and "Dry run" in result.output
    db.session.expire_all()
    assert old.body and old.purged_at is None and purge_events() == []


def test_cli_purges_one_practice_with_progress(app, journey):
    message(journey, 31 * DAY)
    message(journey, 32 * DAY)
    other = factories.practice(name="Other", number="+15005550103", retention_days=1)
    spared = message(factories.journey(factories.contact(other)), 2 * DAY)

    result = run(app, "purge", "--practice", str(journey.practice_id), "--batch", "1")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "found 2 messages to purge, 0 copies at Twilio to delete" in lines[1]
    assert [line.strip() for line in lines[2:4]] == ["purged 1/2", "purged 2/2"]
    assert "done: 2 messages and 0 photos purged" in lines[4]
    db.session.expire_all()
    assert spared.purged_at is None
    assert run(app, "purge", "--practice", "999").exit_code != 0


def test_the_worker_runs_retention_on_its_own_slower_schedule(app, gateway, monkeypatch):
    clock, calls, more = [1000.0], [], [False]
    monkeypatch.setattr(worker, "_clock", lambda: clock[0])
    monkeypatch.setattr(worker, "_next_run", {})
    monkeypatch.setattr(retention, "sweep", lambda gw: calls.append(gw) or more[0])
    app.config["INBOX_RETENTION_EVERY_SECONDS"] = 3600

    worker.run_once(gateway, "test-worker")
    clock[0] += 60  # the 15 s sweeps run again; retention waits for its hour
    worker.run_once(gateway, "test-worker")
    assert calls == [gateway]

    clock[0] += 3600
    more[0] = True  # more than one bounded batch is due: the next pass goes on at once
    worker.run_once(gateway, "test-worker")
    worker.run_once(gateway, "test-worker")
    assert len(calls) == 3
