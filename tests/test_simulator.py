"""The Twilio simulator drives the very same signed webhook, media and status paths."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, text

from inbox import create_app
from inbox.dev.simulator import SimulatorGateway
from inbox.extensions import db
from inbox.models import Attachment, Journey, Message
from inbox.texting import consent, outbox
from tests import factories
from tests.conftest import StaffClient, running_app


@pytest.fixture
def sim_app(app_env, monkeypatch):
    """The app as `make run` starts it: no Twilio credentials, so simulator mode."""
    monkeypatch.delenv("TWILIO_ACCOUNT_SID")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.delenv("INBOX_MEDIA_HOSTS")
    yield from running_app()


@pytest.fixture
def sim_staff(sim_app):
    """A logged-in coordinator of the demo-like practice."""
    practice = factories.practice(number="+15005550006")
    user = factories.user(practice, email="dana@example.com")
    browser = StaffClient(sim_app.test_client())
    browser.login(user.email)
    return browser


def jpeg() -> bytes:
    """A small photo."""
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "navy").save(out, "JPEG")
    return out.getvalue()


def test_simulator_is_on_without_credentials_and_needs_login(sim_app):
    assert sim_app.config["INBOX_SIMULATOR"] is True
    assert sim_app.test_client().get("/simulator/").status_code == 302


def test_simulated_text_with_photo_arrives_through_the_signed_webhook(sim_app, sim_staff):
    page = sim_staff.get("/simulator/")
    assert page.status_code == 200
    response = sim_staff.post(
        "/simulator/send",
        data={
            "from": "(415) 555-0142",
            "to": "+15005550006",
            "body": "Here is my card",
            "photo": (io.BytesIO(jpeg()), "card.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data
    msg = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert msg.body == "Here is my card" and msg.twilio_sid.startswith("SM")
    att = db.session.scalar(select(Attachment))
    assert att.source_url.startswith(sim_app.config["INBOX_PUBLIC_URL"] + "/simulator/media/")
    # Hosted like Twilio hosts media: basic auth with the account's credentials, nothing without.
    path = att.source_url.removeprefix(sim_app.config["INBOX_PUBLIC_URL"])
    anonymous = sim_app.test_client()
    assert anonymous.get(path).status_code == 401
    gateway = SimulatorGateway(sim_app)
    user, password = gateway.media_auth
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    served = anonymous.get(path, headers=auth)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    thread = sim_staff.get("/simulator/thread?from=%2B14155550142&to=%2B15005550006").get_json()["messages"]
    assert [(m["direction"], m["body"], m["attachments"]) for m in thread] == [
        ("inbound", "Here is my card", 1)
    ]


def test_simulated_outbound_text_gets_signed_status_callbacks(sim_app, sim_staff):
    from inbox.models import Practice

    practice = db.session.scalar(select(Practice))
    contact = factories.contact(practice, phone="+14155550142")
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    journey = factories.journey(contact)
    msg = outbox.compose(db.session.get(Journey, journey.id), "See you Tuesday")
    db.session.commit()
    assert outbox.drain(SimulatorGateway(sim_app), "sim-worker") == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(Message, msg.id).status == "delivered":
            break
        time.sleep(0.1)
    assert db.session.get(Message, msg.id).status == "delivered"
    thread = sim_staff.get("/simulator/thread?from=%2B14155550142&to=%2B15005550006").get_json()["messages"]
    assert thread[-1]["body"] == "See you Tuesday"


# -- one practice's simulator never reaches another's -------------------------------------------


@pytest.fixture
def other_practice(sim_app):
    """A second practice on the same (shared staging) server, with a contact who texted it."""
    other = factories.practice(name="Other Practice", number="+15005550999")
    contact = factories.contact(other, phone="+14155550177")
    factories.message(factories.journey(contact), body="private to the other practice")
    db.session.commit()
    return other


def test_the_simulator_lists_only_the_users_own_numbers(sim_staff, other_practice):
    page = sim_staff.get("/simulator/").get_data(as_text=True)
    assert "+15005550006" in page and "+15005550999" not in page and "Other Practice" not in page


def test_the_simulator_cannot_read_another_practices_thread(sim_staff, other_practice):
    answer = sim_staff.get("/simulator/thread?from=%2B14155550177&to=%2B15005550999")
    assert answer.status_code == 404 and b"private" not in answer.data


def test_the_simulator_cannot_text_another_practice(sim_staff, other_practice):
    before = db.session.query(Message).count()
    answer = sim_staff.post(
        "/simulator/send", data={"from": "+14155550177", "to": "+15005550999", "body": "hello B"}
    )
    assert answer.status_code == 404
    assert db.session.query(Message).count() == before


# -- what it leaves on disk ----------------------------------------------------------------------


def hosted(app) -> list[Path]:
    """The photos the simulator hosts right now."""
    folder = Path(app.instance_path) / "simulator-media"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_hosted_photos_are_sealed_on_disk(sim_app, sim_staff):
    photo = jpeg()
    answer = sim_staff.post(
        "/simulator/send",
        data={
            "from": "+14155550142",
            "to": "+15005550006",
            "body": "card",
            "photo": (io.BytesIO(photo), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200
    [path] = hosted(sim_app)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    stored = path.read_bytes()
    assert photo not in stored and not stored.startswith(b"\xff\xd8")


def test_a_photo_the_app_will_refuse_is_sealed_too(sim_app, sim_staff):
    tiff = b"II*\x00" + b"\x00" * 200
    sim_staff.post(
        "/simulator/send",
        data={
            "from": "+14155550142",
            "to": "+15005550006",
            "body": "scan",
            "photo": (io.BytesIO(tiff), "a.tif"),
        },
        content_type="multipart/form-data",
    )
    assert all(not p.read_bytes().startswith(b"II*") for p in hosted(sim_app))


def test_photos_of_a_refused_text_leave_nothing_on_disk(sim_app, sim_staff):
    too_big = b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024)
    answer = sim_staff.post(
        "/simulator/send",
        data={
            "from": "+14155550142",
            "to": "+15005550006",
            "photo": [(io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(too_big), "b.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    assert hosted(sim_app) == []
    answer = sim_staff.post(  # refused by the webhook itself: a body too long for any text
        "/simulator/send",
        data={
            "from": "+14155550142",
            "to": "+15005550006",
            "body": "x" * 7000,
            "photo": (io.BytesIO(jpeg()), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    assert hosted(sim_app) == []


def test_development_creates_the_database_and_media_folders_private(tmp_path, app_env, monkeypatch):
    if not app_env["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("the SQLite file is the embedded default's")
    database = tmp_path / "fresh" / "inbox.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("INBOX_MEDIA_DIR", str(tmp_path / "fresh-media"))
    monkeypatch.setenv("INBOX_INSTANCE_DIR", str(tmp_path / "fresh-instance"))
    monkeypatch.delenv("SECRET_KEY")
    app = create_app()
    with app.app_context():
        db.create_all()
        db.session.execute(text("CREATE TABLE scratch (x)"))  # something in the WAL
        db.session.commit()
        modes = {p.name: p.stat().st_mode & 0o777 for p in database.parent.iterdir()}
        db.engine.dispose()
    assert modes == {"inbox.sqlite3": 0o600, "inbox.sqlite3-wal": 0o600, "inbox.sqlite3-shm": 0o600}
    for folder in ("fresh", "fresh-media", "fresh-instance"):
        assert (tmp_path / folder).stat().st_mode & 0o777 == 0o700, folder
    assert (tmp_path / "fresh-instance" / "secret_key").stat().st_mode & 0o777 == 0o600
