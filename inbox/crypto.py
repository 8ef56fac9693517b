"""Encryption at rest: AES-256-GCM with key ids and associated data that binds a ciphertext to its record.

A sealed value is ``b"\\x01" + len(kid) + kid + nonce(12) + ciphertext+tag``. The key id travels with the
ciphertext so that old data stays readable after a rotation; the associated data (for example
``"message.body:4f2c…"``) makes a ciphertext copied onto another record fail to open instead of
decrypting into the wrong thread.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, tampered bytes, or bound to another record."""


class KeyConfigError(ValueError):
    """INBOX_DATA_KEYS is malformed."""


class Keyring:
    """The data keys by id; the first one encrypts, every one decrypts."""

    def __init__(self, spec: str):
        self.keys: dict[str, AESGCM] = {}
        self.primary = ""
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep or not kid or len(kid) > 32:
                raise KeyConfigError("each key must look like kid:base64key")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise KeyConfigError(f"key {kid!r} is not valid base64") from exc
            if len(raw) != 32:
                raise KeyConfigError(f"key {kid!r} must be 32 bytes (AES-256)")
            self.keys[kid] = AESGCM(raw)
            self.primary = self.primary or kid
        if not self.primary:
            raise KeyConfigError("INBOX_DATA_KEYS holds no key")

    def seal(self, plaintext: bytes, aad: str) -> bytes:
        """Encrypt under the primary key with a fresh random 96-bit nonce."""
        kid = self.primary.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.primary].encrypt(nonce, plaintext, aad.encode())
        return bytes([VERSION, len(kid)]) + kid + nonce + sealed

    def open(self, blob: bytes, aad: str) -> bytes:
        """Decrypt a sealed value, or raise DecryptionError saying why."""
        if len(blob) < 2 or blob[0] != VERSION:
            raise DecryptionError(f"{aad}: not a sealed value")
        kid_end = 2 + blob[1]
        kid = blob[2:kid_end].decode(errors="replace")
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"{aad}: encrypted under unknown key id {kid!r}")
        nonce, sealed = blob[kid_end : kid_end + NONCE_BYTES], blob[kid_end + NONCE_BYTES :]
        try:
            return key.decrypt(nonce, sealed, aad.encode())
        except InvalidTag:
            raise DecryptionError(
                f"{aad}: ciphertext failed authentication (tampered, wrong key, or another record's)"
            ) from None

    def key_id(self, blob: bytes) -> str:
        """The id of the key a sealed value was made with."""
        return blob[2 : 2 + blob[1]].decode(errors="replace")


def init_app(app: Any) -> None:
    """Load the app's keyring from INBOX_DATA_KEYS (fails fast on a malformed key)."""
    app.extensions["inbox_keyring"] = Keyring(app.config["INBOX_DATA_KEYS"])


def keyring() -> Keyring:
    """The keyring of the current app."""
    from flask import current_app

    return current_app.extensions["inbox_keyring"]


class EncryptedField:
    """A model attribute stored sealed in a LargeBinary column, bound to the row by its ``uid``.

    Use: ``body_ct = mapped_column(LargeBinary)`` and ``body = EncryptedField("body_ct", "message.body")``.
    Reading decrypts on access; assigning ``None`` clears the ciphertext (used by redaction).
    """

    def __init__(self, column: str, purpose: str):
        self.column = column
        self.purpose = purpose

    def aad(self, obj: Any) -> str:
        """Associated data: what the value is and which record it belongs to."""
        return f"{self.purpose}:{obj.uid}"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        blob = getattr(obj, self.column)
        if blob is None:
            return None
        return keyring().open(blob, self.aad(obj)).decode()

    def __set__(self, obj: Any, value: str | None) -> None:
        sealed = None if value is None else keyring().seal(value.encode(), self.aad(obj))
        setattr(obj, self.column, sealed)
