"""Redaction leaves a tombstone and nothing else: not on disk, not in the database, not at Twilio."""

from __future__ import annotations

import io
import sqlite3
import threading
from pathlib import Path

from PIL import Image
from sqlalchemy import select, text

from inbox.extensions import db
from inbox.gateway.rest import TwilioGateway
from inbox.media import attachments
from inbox.models import Attachment, AuditEvent, Message, utcnow
from inbox.records.redaction import redact
from tests import factories
from tests.conftest import StaffClient

SID = "MM" + "b" * 32


def received_mms(practice, inbound, fake_twilio) -> TwilioGateway:
    """An inbound MMS whose photo waits to be fetched (kept at Twilio); returns the gateway to fetch it."""
    practice.delete_media_at_twilio = False
    db.session.commit()
    photo = io.BytesIO()
    Image.new("RGB", (400, 300), "teal").save(photo, "JPEG")
    url = fake_twilio.add_media(SID, photo.getvalue(), "image/jpeg")
    inbound("member id XZ-5531", sid=SID, NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    return TwilioGateway(fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url)


def stored_mms(app, practice, inbound, fake_twilio):
    """An inbound MMS whose photo is processed and stored, still present at Twilio."""
    attachments.process_due(received_mms(practice, inbound, fake_twilio))
    return db.session.scalar(select(Message).where(Message.twilio_sid == SID))


def test_admin_redaction_destroys_body_media_and_twilio_copies(app, practice, inbound, fake_twilio):
    msg = stored_mms(app, practice, inbound, fake_twilio)
    fake_twilio.messages[SID] = {"sid": SID}  # Twilio keeps inbound messages too
    admin = factories.user(
        practice, email="admin@example.com", role="admin", first_name="Avery", last_name="Kim"
    )
    browser = StaffClient(app.test_client())
    browser.login(admin.email)
    response = browser.post(f"/api/messages/{msg.id}/redact")
    assert response.status_code == 200, response.data
    body = response.get_json()["message"]
    assert body["body"] is None and body["redacted_by"] == "Avery Kim"
    db.session.expire_all()
    raw = db.session.execute(text("SELECT body_ct FROM messages WHERE id = :id"), {"id": msg.id}).scalar()
    assert raw is None
    assert list(Path(app.config["INBOX_MEDIA_DIR"]).rglob("*.original")) == []
    assert list(Path(app.config["INBOX_MEDIA_DIR"]).rglob("*.thumb")) == []
    assert db.session.scalar(select(Attachment.status)) == "redacted"
    assert SID in fake_twilio.deleted_messages and len(fake_twilio.deleted_media) == 1
    assert (
        db.session.scalar(select(AuditEvent).where(AuditEvent.action == "message.redact")).user_id == admin.id
    )
    assert browser.post(f"/api/messages/{msg.id}/redact").status_code == 409  # cannot be undone or redone
    thread = browser.get(f"/api/journeys/{msg.journey_id}/messages").get_json()["messages"]
    assert thread[0]["redacted_at"] and thread[0]["body"] is None


def test_staff_cannot_redact_and_other_practices_get_404(app, practice, inbound, fake_twilio, staff_client):
    msg = stored_mms(app, practice, inbound, fake_twilio)
    assert staff_client.post(f"/api/messages/{msg.id}/redact").status_code == 403
    other = factories.practice(name="Other", number="+15005550999")
    outsider = factories.user(other, email="boss@other.example", role="admin")
    browser = StaffClient(app.test_client())
    browser.login(outsider.email)
    assert browser.post(f"/api/messages/{msg.id}/redact").status_code == 404
    db.session.expire_all()
    assert db.session.get(Message, msg.id).body == "member id XZ-5531"


def test_a_message_the_retention_policy_purged_cannot_be_redacted_again(app, practice, admin_client, inbound):
    inbound("see you Tuesday", from_="+14155550100")
    msg = db.session.scalars(select(Message).where(Message.direction == "inbound")).one()
    msg.body, msg.purged_at = None, utcnow()
    db.session.commit()
    response = admin_client.post(f"/api/messages/{msg.id}/redact")
    assert response.status_code == 409 and "retention" in response.get_json()["error"]
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "message.redact")) is None


def test_redaction_holds_no_write_lock_while_it_waits_for_twilio(app, practice, inbound, fake_twilio):
    """Under eventlet a lock held across Twilio's round trip stalls every greenlet that writes."""
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL's row locks do not stop the world; the ordering is pinned on SQLite
    msg = stored_mms(app, practice, inbound, fake_twilio)
    admin = factories.user(practice, email="admin@example.com", role="admin")
    locked_during: list[str] = []

    class Probe(TwilioGateway):
        """The real gateway, which first checks whether another connection could write now."""

        def _probe(self, what: str) -> None:
            other = sqlite3.connect(db.engine.url.database, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.rollback()
            except sqlite3.OperationalError:
                locked_during.append(what)
            finally:
                other.close()

        def delete_message(self, sid: str) -> None:
            self._probe("message")
            super().delete_message(sid)

        def delete_media(self, media_url: str) -> None:
            self._probe("media")
            super().delete_media(media_url)

    fake_twilio.messages[SID] = {"sid": SID}
    gateway = Probe(fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url)
    assert redact(msg, admin, gateway) == []
    assert locked_during == []
    assert SID in fake_twilio.deleted_messages and len(fake_twilio.deleted_media) == 1
    assert db.session.get(Message, msg.id).redacted_at is not None


def test_a_photo_fetched_while_its_message_is_redacted_stays_redacted(app, practice, inbound, fake_twilio):
    """The worker fetches a photo; an admin redacts the message meanwhile; the photo must not come back."""
    gateway = received_mms(practice, inbound, fake_twilio)
    admin = factories.user(practice, email="admin@example.com", role="admin")
    real_fetch = attachments.media.fetch

    def fetch_while_an_admin_redacts(*args, **kwargs):
        """The download is slow; the admin's redaction commits from another request before it ends."""
        raw = real_fetch(*args, **kwargs)

        def admin_request() -> None:
            with app.app_context():
                msg = db.session.scalar(select(Message).where(Message.twilio_sid == SID))
                redact(msg, db.session.get(type(admin), admin.id), gateway)
                db.session.remove()

        other = threading.Thread(target=admin_request)
        other.start()
        other.join(timeout=30)
        return raw

    attachments.media.fetch = fetch_while_an_admin_redacts
    try:
        attachments.process_due(gateway)
    finally:
        attachments.media.fetch = real_fetch
    db.session.expire_all()
    assert db.session.scalar(select(Attachment.status)) == "redacted"
    assert list(Path(app.config["INBOX_MEDIA_DIR"]).rglob("*.original")) == []
    assert list(Path(app.config["INBOX_MEDIA_DIR"]).rglob("*.thumb")) == []
    assert db.session.scalar(select(Message).where(Message.twilio_sid == SID)).redacted_at is not None
