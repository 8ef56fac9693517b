"""Encryption at rest: AES-256-GCM with key ids and record binding."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from sqlalchemy import select, text

from inbox import create_app
from inbox.crypto import DecryptionError, KeyConfigError, Keyring
from inbox.extensions import db
from inbox.models import Contact, Journey, Message
from tests import factories

KEY_A = "a:" + base64.b64encode(b"A" * 32).decode()
KEY_B = "b:" + base64.b64encode(b"B" * 32).decode()


def test_round_trip_binds_key_id():
    ring = Keyring(KEY_A)
    sealed = ring.seal("Mi tarjeta de seguro 💳".encode(), "message.body:1")
    assert ring.key_id(sealed) == "a"
    assert ring.open(sealed, "message.body:1").decode() == "Mi tarjeta de seguro 💳"
    assert b"tarjeta" not in sealed


def test_tampered_ciphertext_is_an_error_not_garbage():
    ring = Keyring(KEY_A)
    sealed = bytearray(ring.seal(b"insurance id 123", "message.body:1"))
    sealed[-1] ^= 0x01
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring.open(bytes(sealed), "message.body:1")


def test_ciphertext_moved_to_another_record_does_not_open():
    ring = Keyring(KEY_A)
    sealed = ring.seal(b"for record one", "message.body:one")
    with pytest.raises(DecryptionError):
        ring.open(sealed, "message.body:two")


def test_wrong_key_is_an_error():
    sealed = Keyring(KEY_A).seal(b"secret", "x:1")
    impostor = Keyring(KEY_A.replace("a:", "b:").split(":")[0] + ":" + KEY_B.split(":")[1])
    with pytest.raises(DecryptionError, match="unknown key id"):
        Keyring(KEY_B).open(sealed, "x:1")
    # Same key id, different key bytes: authentication fails.
    with pytest.raises(DecryptionError):
        Keyring("a:" + KEY_B.split(":")[1]).open(sealed, "x:1")
    assert impostor.primary == "b"


def test_old_keys_still_decrypt_after_a_new_primary():
    sealed = Keyring(KEY_A).seal(b"old", "x:1")
    ring = Keyring(f"{KEY_B},{KEY_A}")
    assert ring.open(sealed, "x:1") == b"old"
    assert ring.key_id(ring.seal(b"new", "x:1")) == "b"


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "a:not base64!", "a:" + base64.b64encode(b"short").decode(), ":" + KEY_A.split(":")[1]],
)
def test_malformed_key_config_is_refused(spec):
    with pytest.raises(KeyConfigError):
        Keyring(spec)


def test_no_nonce_reuse_over_100k_encryptions():
    ring = Keyring(KEY_A)
    nonces = {ring.seal(b"x", "n")[3:15] for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_message_body_is_stored_encrypted(app, practice):
    c = factories.contact(practice)
    j = factories.journey(c)
    msg = factories.message(j, "My member id is XZ-99812")
    db.session.commit()
    raw = db.session.execute(text("SELECT body_ct FROM messages WHERE id = :id"), {"id": msg.id}).scalar()
    assert b"XZ-99812" not in bytes(raw)
    db.session.expire_all()
    assert db.session.get(Message, msg.id).body == "My member id is XZ-99812"


def test_body_copied_onto_another_message_fails_to_decrypt(app, practice):
    c = factories.contact(practice)
    j = factories.journey(c)
    first, second = factories.message(j, "one"), factories.message(j, "two")
    db.session.commit()
    second.body_ct = first.body_ct
    db.session.commit()
    with pytest.raises(DecryptionError):
        _ = db.session.get(Message, second.id).body


def test_embedded_default_generates_keys_with_mode_0600(tmp_path, monkeypatch):
    for name in ("SECRET_KEY", "INBOX_DATA_KEYS", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INBOX_INSTANCE_DIR", str(tmp_path))
    app = create_app()
    keyfile = tmp_path / "data_keys"
    assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
    assert app.config["INBOX_DATA_KEYS"] == keyfile.read_text().strip()
    assert app.config["INBOX_SIMULATOR"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    # A second start reads the same keys instead of making new ones (data stays readable).
    assert create_app().config["INBOX_DATA_KEYS"] == app.config["INBOX_DATA_KEYS"]


def test_rotate_keys_re_encrypts_everything_under_the_new_key(app, practice, monkeypatch):
    c = factories.contact(practice)
    j = factories.journey(c)
    for i in range(7):
        factories.message(j, f"body {i}")
    db.session.commit()
    new_key = "new:" + base64.b64encode(b"N" * 32).decode()
    monkeypatch.setenv("INBOX_DATA_KEYS", f"{new_key},{app.config['INBOX_DATA_KEYS']}")
    rotated_app = create_app({"TESTING": True})
    with rotated_app.app_context():  # the CLI runs in the app context it finds
        result = rotated_app.test_cli_runner().invoke(args=["rotate-keys", "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert "messages: 7/7 checked, 7 values re-encrypted" in result.output
    assert "contacts: 1/1 checked, 3 values re-encrypted" in result.output  # number, first and last name
    assert "journeys: 1/1 checked, 1 values re-encrypted" in result.output  # its stage
    with rotated_app.app_context():
        ring = rotated_app.extensions["inbox_keyring"]
        rows = db.session.scalars(select(Message).order_by(Message.id)).all()
        assert {ring.key_id(m.body_ct) for m in rows} == {"new"}
        assert [m.body for m in rows] == [f"body {i}" for i in range(7)]
        contact = db.session.get(Contact, c.id)
        assert {ring.key_id(b) for b in (contact.phone_ct, contact.first_name_ct, contact.last_name_ct)} == {
            "new"
        }
        assert (contact.phone, contact.first_name) == ("+14155550100", "Maria")
        assert ring.key_id(db.session.get(Journey, j.id).stage_ct) == "new"
    # The new key alone now opens everything.
    monkeypatch.setenv("INBOX_DATA_KEYS", new_key)
    with create_app({"TESTING": True}).app_context():
        assert db.session.scalars(select(Message)).first().body == "body 0"
