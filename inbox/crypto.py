"""Encryption at rest: AES-256-GCM with key ids and associated data that binds a ciphertext to its record,
and the keyed blind index that finds a sealed value by exact match without storing it.

A sealed value is ``b"\\x01" + len(kid) + kid + nonce(12) + ciphertext+tag``. The key id travels with the
ciphertext so that old data stays readable after a rotation; the associated data (for example
``"message.body:4f2c…"``) makes a ciphertext copied onto another record fail to open instead of
decrypting into the wrong thread.

A blind index entry is ``HMAC-SHA256(practice key, purpose + NUL + normalised value)``. The practice key is
derived (HKDF-SHA256) from INBOX_INDEX_KEY, which is not a data key: a stolen database reveals which rows
share a value within one practice, never the value, and the same number has unrelated digests in two
practices. Changing INBOX_INDEX_KEY means rebuilding every digest (docs/deploy.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, tampered bytes, or bound to another record."""


class KeyConfigError(ValueError):
    """INBOX_DATA_KEYS, INBOX_INDEX_KEY or INBOX_VAPID_PRIVATE_KEY is malformed."""


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


class BlindIndex:
    """Keyed digests of values that stay sealed, so that equal values can be found (one key per practice)."""

    def __init__(self, encoded: str):
        try:
            self.root = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise KeyConfigError("INBOX_INDEX_KEY is not valid base64") from exc
        if len(self.root) != 32:
            raise KeyConfigError("INBOX_INDEX_KEY must be 32 bytes")
        self._keys: dict[int, bytes] = {}

    def practice_key(self, practice_id: int) -> bytes:
        """The practice's own index key, derived once and kept."""
        key = self._keys.get(practice_id)
        if key is None:
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"inbox-index:%d" % practice_id)
            key = self._keys[practice_id] = hkdf.derive(self.root)
        return key

    def digest(self, practice_id: int, purpose: str, value: str) -> bytes:
        """The 32-byte digest of an already normalised value (an E.164 number, a folded word)."""
        message = purpose.encode() + b"\0" + value.encode()
        return hmac.new(self.practice_key(practice_id), message, hashlib.sha256).digest()


def new_index_key() -> str:
    """A fresh INBOX_INDEX_KEY."""
    return base64.b64encode(os.urandom(32)).decode()


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Bytes from URL-safe base64 with or without padding; ValueError for anything else."""
    text = text.rstrip("=")
    if not text.isascii() or not all(c.isalnum() or c in "-_" for c in text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_vapid_key() -> str:
    """A fresh INBOX_VAPID_PRIVATE_KEY: a P-256 private key, its 32 raw bytes in base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def vapid_public_key(private: str) -> str:
    """The application server key browsers subscribe with (the uncompressed P-256 point, base64url)."""
    try:
        raw = unb64url(private.strip())
        if len(raw) != 32:
            raise ValueError("wrong length")
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise KeyConfigError(
            "INBOX_VAPID_PRIVATE_KEY must be a P-256 private key, 32 bytes in base64url"
        ) from exc
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def init_app(app: Any) -> None:
    """Load the keyring, the blind index and the VAPID key from their settings (fails fast on a
    malformed key)."""
    app.extensions["inbox_keyring"] = Keyring(app.config["INBOX_DATA_KEYS"])
    app.extensions["inbox_blind_index"] = BlindIndex(app.config["INBOX_INDEX_KEY"])
    app.config["INBOX_VAPID_PUBLIC_KEY"] = vapid_public_key(app.config["INBOX_VAPID_PRIVATE_KEY"])


def keyring() -> Keyring:
    """The keyring of the current app."""
    from flask import current_app

    return current_app.extensions["inbox_keyring"]


def blind_index() -> BlindIndex:
    """The blind index of the current app."""
    from flask import current_app

    return current_app.extensions["inbox_blind_index"]


PHONE = "phone"  # the purpose of a contact number's digest (E.164)


def phone_digest(practice_id: int, e164: str) -> bytes:
    """What `contacts.phone_index` holds for this number in this practice."""
    return blind_index().digest(practice_id, PHONE, e164)


class EncryptedField:
    """A model attribute stored sealed in a LargeBinary column, bound to the row by its ``uid``.

    Use: ``body_ct = mapped_column(LargeBinary)`` and ``body = EncryptedField("body_ct", "message.body")``.
    Reading decrypts on access; assigning ``None`` clears the ciphertext (used by redaction). With
    ``empty=""`` a NULL column reads as "" and assigning "" stores NULL (names nobody gave us yet).
    """

    def __init__(self, column: str, purpose: str, *, empty: str | None = None):
        self.column = column
        self.purpose = purpose
        self.empty = empty

    def aad(self, obj: Any) -> str:
        """Associated data: what the value is and which record it belongs to."""
        return f"{self.purpose}:{obj.uid}"

    def __eq__(self, other: object) -> bool:
        # `Contact.phone == x` in a query would quietly become `WHERE false`: the database holds only
        # ciphertext. Find a number by its digest (texting.journeys.find_contact); open values in Python.
        raise TypeError(f"{self.purpose} is sealed: SQL cannot compare it (use its blind index)")

    __ne__ = __eq__
    __hash__ = object.__hash__

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        blob = getattr(obj, self.column)
        if blob is None:
            return self.empty
        return keyring().open(blob, self.aad(obj)).decode()

    def __set__(self, obj: Any, value: str | None) -> None:
        sealed = (
            None if value is None or value == self.empty else keyring().seal(value.encode(), self.aad(obj))
        )
        setattr(obj, self.column, sealed)


class IndexedPhone(EncryptedField):
    """A sealed E.164 number whose blind-index digest (for lookups and uniqueness) is kept beside it.

    The row's ``practice_id`` must be set first: the digest is keyed per practice.
    """

    def __init__(self, column: str, purpose: str, index_column: str):
        super().__init__(column, purpose)
        self.index_column = index_column

    def __set__(self, obj: Any, value: str | None) -> None:
        super().__set__(obj, value)
        if value is not None and obj.practice_id is None:
            raise ValueError(
                f"{self.purpose}: set practice_id before the number (its digest is per practice)"
            )
        setattr(obj, self.index_column, None if value is None else phone_digest(obj.practice_id, value))
