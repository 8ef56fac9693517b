"""MMS photos end to end: webhook, durable media job, encrypted storage, review and serving."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from inbox.extensions import db
from inbox.media import attachments
from inbox.models import Attachment, AuditEvent
from inbox.texting.inbound import UNUSABLE_MEDIA_URL
from tests import factories, hostile_pdfs
from tests.conftest import StaffClient

MESSAGE_SID = "MM" + "a" * 32


def photo_with_gps(size=(1200, 800), colour=(30, 120, 200)) -> bytes:
    """A JPEG like a phone's: with GPS coordinates in its EXIF."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = {1: "N", 2: (40.0, 44.0, 55.0), 3: "W", 4: (73.0, 59.0, 11.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def send_mms(inbound, fake_twilio, files: list[tuple[bytes, str]], body: str = "here is my card"):
    """An inbound MMS whose media the fake Twilio hosts."""
    fields = {"NumMedia": str(len(files))}
    for i, (data, declared) in enumerate(files):
        fields[f"MediaUrl{i}"] = fake_twilio.add_media(MESSAGE_SID, data, declared)
        fields[f"MediaContentType{i}"] = declared
    return inbound(body, sid=MESSAGE_SID, **fields)


def run_jobs(gateway) -> int:
    """Run the media jobs until none is due."""
    total = 0
    while n := attachments.process_due(gateway, limit=20):
        total += n
    return total


def test_webhook_answers_before_media_is_fetched(inbound, practice, fake_twilio):
    response = send_mms(inbound, fake_twilio, [(photo_with_gps(), "image/jpeg")])
    assert response.status_code == 200
    assert fake_twilio.media_requests == []  # nothing fetched inside the request
    att = db.session.scalar(select(Attachment))
    assert att.status == "pending"


def test_mms_with_ten_photos_is_stored_encrypted_without_gps(inbound, practice, fake_twilio, gateway, app):
    files = [(photo_with_gps(colour=(i * 20, 80, 160)), "image/jpeg") for i in range(10)]
    send_mms(inbound, fake_twilio, files)
    assert run_jobs(gateway) == 10
    db.session.expire_all()
    rows = db.session.scalars(select(Attachment).order_by(Attachment.position)).all()
    assert [a.status for a in rows] == ["ready"] * 10
    for att in rows:
        original = attachments.read_blob(att, "original")
        image = Image.open(io.BytesIO(original))
        assert image.format == "JPEG"
        assert 0x8825 not in image.getexif() and not image.getexif()
        thumb = Image.open(io.BytesIO(attachments.read_blob(att, "thumb")))
        assert max(thumb.size) <= 320
        assert att.source_url is None  # deleted at Twilio once safely stored
    assert len(fake_twilio.deleted_media) == 10
    # Only ciphertext on disk: no JPEG magic, no EXIF marker, names say nothing.
    media_dir = Path(app.config["INBOX_MEDIA_DIR"])
    blobs = [p for p in media_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 20
    for blob in blobs:
        data = blob.read_bytes()
        assert b"\xff\xd8\xff" not in data[:64] and b"Exif" not in data and b"JFIF" not in data
        assert blob.stem in {a.uid for a in rows}


def test_credentials_go_only_to_the_media_host(inbound, practice, fake_twilio, gateway):
    send_mms(inbound, fake_twilio, [(photo_with_gps(), "image/jpeg")])
    run_jobs(gateway)
    gets = [r for r in fake_twilio.media_requests if r["method"] == "GET"]
    assert gets and all(r["auth"] for r in gets)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://evil.example.com/x.jpg",
        "http://127.0.0.1:1/x.jpg",
        "file:///etc/passwd",
    ],
)
def test_media_from_disallowed_hosts_is_never_fetched(inbound, practice, fake_twilio, gateway, url):
    response = inbound("card", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert response.status_code == 200  # the text is kept whatever its media links say
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert att.status == "unavailable"
    # Not even an http(s) URL: unavailable at the door; otherwise refused by the host allow-list.
    assert att.error == UNUSABLE_MEDIA_URL if url.startswith("file:") else "allowed" in att.error
    assert fake_twilio.media_requests == []


def test_redirect_to_an_internal_address_is_refused(inbound, practice, fake_twilio, gateway):
    url = fake_twilio.add_media(MESSAGE_SID, b"", "image/jpeg", redirect_to="http://169.254.169.254/latest")
    inbound("card", sid=MESSAGE_SID, NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert att.status == "unavailable"


def test_declared_type_is_ignored_and_text_is_rejected(inbound, practice, fake_twilio, gateway):
    png = io.BytesIO()
    Image.new("RGB", (50, 50), "red").save(png, "PNG")
    send_mms(
        inbound, fake_twilio, [(png.getvalue(), "image/jpeg"), (b"<script>alert(1)</script>", "image/png")]
    )
    run_jobs(gateway)
    db.session.expire_all()
    first, second = db.session.scalars(select(Attachment).order_by(Attachment.position)).all()
    assert (first.status, first.content_type) == ("ready", "image/png")
    assert second.status == "unavailable" and "type" in second.error


@pytest.mark.parametrize("kind", sorted(hostile_pdfs.HOSTILE))
def test_an_inbound_pdf_is_stored_without_its_active_content(inbound, practice, fake_twilio, gateway, kind):
    sent = hostile_pdfs.hostile(kind)
    send_mms(inbound, fake_twilio, [(sent, "application/pdf")])
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert (att.status, att.content_type) == ("ready", "application/pdf")
    stored = attachments.read_blob(att, "original")  # what staff download, decrypted
    assert stored != sent and att.size == len(stored)
    kept = hostile_pdfs.expanded(stored)
    assert not hostile_pdfs.ACTIVE.search(kept), hostile_pdfs.ACTIVE.search(kept)
    assert kept.count(hostile_pdfs.TEXT) == 2  # both pages, with their text


def test_a_pdf_that_cannot_be_made_safe_is_unavailable_and_its_message_kept(
    inbound, practice, fake_twilio, gateway
):
    locked = hostile_pdfs.saved(hostile_pdfs.plain(), encryption=pikepdf.Encryption(owner="o", user="pw"))
    send_mms(inbound, fake_twilio, [(locked, "application/pdf")], body="my insurance letter")
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert (att.status, att.error) == ("unavailable", "could not make this PDF safe")
    assert attachments.blob_paths(att) == []  # nothing of it stored
    assert att.message.body == "my insurance letter"
    assert att.source_url is not None  # still at Twilio: nothing was stored that could replace it


def test_pixel_flood_is_rejected(inbound, practice, fake_twilio, gateway):
    flood = io.BytesIO()
    Image.new("1", (20000, 20000)).save(flood, "PNG")  # tiny file, 400 megapixels
    send_mms(inbound, fake_twilio, [(flood.getvalue(), "image/png")])
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert att.status == "unavailable"


def test_oversized_file_is_rejected(inbound, practice, fake_twilio, gateway):
    send_mms(inbound, fake_twilio, [(b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 10), "image/jpeg")])
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert att.status == "unavailable" and "5 MB" in att.error


def test_failed_fetch_is_retried_then_shown_with_a_retry_action(
    inbound, practice, fake_twilio, gateway, staff_client
):
    send_mms(inbound, fake_twilio, [(photo_with_gps(), "image/jpeg")])
    fake_twilio.stop()  # Twilio unreachable: a retryable failure
    attachments.process_due(gateway)
    att = db.session.scalar(select(Attachment))
    db.session.refresh(att)
    assert att.status == "pending" and att.error.startswith("Retrying")
    att.attempts = attachments.MAX_ATTEMPTS
    att.next_attempt_at = att.created_at
    db.session.commit()
    attachments.process_due(gateway)
    db.session.refresh(att)
    assert att.status == "unavailable"
    response = staff_client.post(f"/api/attachments/{att.id}/retry")
    assert response.status_code == 200
    db.session.refresh(att)
    assert att.status == "pending" and att.attempts == 0


def test_staff_view_label_review_and_download_are_audited(
    inbound, practice, fake_twilio, gateway, staff_client
):
    send_mms(inbound, fake_twilio, [(photo_with_gps(), "image/jpeg")])
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    view = staff_client.get(f"/attachments/{att.id}")
    assert view.status_code == 200 and view.mimetype == "image/jpeg"
    assert view.headers["Cache-Control"] == "no-store"
    assert view.headers["X-Content-Type-Options"] == "nosniff"
    assert view.headers["Content-Disposition"] == f'inline; filename="attachment-{att.id}.jpg"'
    download = staff_client.get(f"/attachments/{att.id}?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    thumb = staff_client.get(f"/attachments/{att.id}?variant=thumb")
    assert thumb.status_code == 200
    labelled = staff_client.patch(
        f"/api/attachments/{att.id}", json={"label": "insurance_front", "reviewed": True}
    )
    body = labelled.get_json()["attachment"]
    assert body["label_text"] == "Insurance card (front)" and body["reviewed_by"] == "Dana Reyes"
    assert staff_client.patch(f"/api/attachments/{att.id}", json={"label": "selfie"}).status_code == 400
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_type == "attachments")
    ).all()
    assert actions == [
        "attachment.view_original",
        "attachment.download",
        "attachment.view_thumb",
        "attachment.update",
    ]


def test_media_is_served_only_to_staff_of_that_practice(app, inbound, practice, fake_twilio, gateway, client):
    send_mms(inbound, fake_twilio, [(photo_with_gps(), "image/jpeg")])
    run_jobs(gateway)
    att = db.session.scalar(select(Attachment))
    assert client.get(f"/attachments/{att.id}").status_code == 302  # to the login page
    other = factories.practice(name="Other", number="+15005550999")
    outsider = factories.user(other, email="outsider@example.com")
    browser = StaffClient(app.test_client())
    browser.login(outsider.email)
    assert browser.get(f"/attachments/{att.id}").status_code == 404
    assert browser.patch(f"/api/attachments/{att.id}", json={"reviewed": True}).status_code == 404


def test_a_media_url_without_its_content_type_is_still_an_attachment(inbound, practice, fake_twilio, gateway):
    # Twilio's form can carry MediaUrlN without MediaContentTypeN: the type comes from the bytes anyway.
    png = io.BytesIO()
    Image.new("RGB", (40, 40), "green").save(png, "PNG")
    response = inbound(
        "two photos",
        sid=MESSAGE_SID,
        NumMedia="2",
        MediaUrl0=fake_twilio.add_media(MESSAGE_SID, photo_with_gps(), "image/jpeg"),
        MediaContentType0="image/jpeg",
        MediaUrl1=fake_twilio.add_media(MESSAGE_SID, png.getvalue(), "image/png"),
    )
    assert response.status_code == 200
    assert run_jobs(gateway) == 2
    db.session.expire_all()
    rows = db.session.scalars(select(Attachment).order_by(Attachment.position)).all()
    assert [(a.position, a.status, a.content_type) for a in rows] == [
        (0, "ready", "image/jpeg"),
        (1, "ready", "image/png"),
    ]


def test_every_media_url_is_an_attachment_even_beyond_num_media(inbound, practice, fake_twilio):
    # SPEC: each MediaUrlN is fetched. A count that says fewer (or is missing) must not drop a photo unseen.
    urls = {
        f"MediaUrl{i}": fake_twilio.add_media(MESSAGE_SID, photo_with_gps(), "image/jpeg") for i in range(2)
    }
    response = inbound("two photos", sid=MESSAGE_SID, NumMedia="1", **urls)
    assert response.status_code == 200
    rows = db.session.scalars(select(Attachment).order_by(Attachment.position)).all()
    assert [(a.position, a.source_url) for a in rows] == [(0, urls["MediaUrl0"]), (1, urls["MediaUrl1"])]
