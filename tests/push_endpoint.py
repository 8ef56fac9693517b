"""A local Web Push service, as a browser's push service would be: it checks each push's VAPID JWT
(RFC 8292) against the app's public key and really decrypts the aes128gcm body (RFC 8188/8291) with the
subscribing browser's private key and auth secret, generated here as a browser would.

Each `device()` is one subscribed browser: its endpoint is on this server, its keys are its own.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Bytes from URL-safe base64 with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """One browser's push subscription: an endpoint here, its ECDH key pair and auth secret."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    answer: int = 201  # what the service answers a push for this device
    retry_after: str | None = None

    @property
    def p256dh(self) -> str:
        """The public key as PushSubscription.toJSON() gives it."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self) -> dict[str, Any]:
        """What the browser's `subscription.toJSON()` would post."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }


@dataclass
class Push:
    """One push the service took (or refused), decrypted."""

    token: str
    payload: dict[str, Any] | None
    headers: dict[str, str]
    status: int
    raw: bytes = field(repr=False, default=b"")


class PushEndpoint:
    """The local push service (a thread); `pushes` is every push it was sent, in order."""

    def __init__(self, vapid_public_key: str | None = None) -> None:
        self.vapid_public_key = vapid_public_key  # the app's; None: accept the key the JWT names
        self.devices: dict[str, Device] = {}
        self.pushes: list[Push] = []
        self.problems: list[str] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PushEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def device(self, answer: int = 201) -> Device:
        """A new subscribed browser with keys of its own."""
        token = uuid.uuid4().hex
        device = Device(
            token, f"{self.url}/push/{token}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16), answer
        )
        self.devices[token] = device
        return device

    def to(self, device: Device) -> list[Push]:
        """The pushes that reached one device (taken with 201), decrypted."""
        with self._changed:
            return [p for p in self.pushes if p.token == device.token and p.status == 201]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Push]:
        """Wait until at least `count` pushes were taken; the taken ones."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len([p for p in self.pushes if p.status == 201]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.pushes)} pushes within {timeout}s, wanted {count}: {self.problems}"
                    )
                self._changed.wait(left)
            return [p for p in self.pushes if p.status == 201]

    # -- what a push service checks ------------------------------------------------------------

    def check_vapid(self, authorization: str) -> None:
        """RFC 8292: `vapid t=<JWT>, k=<public key>`, the JWT signed ES256 by that key, for our origin."""
        scheme, _, params = authorization.partition(" ")
        assert scheme.lower() == "vapid", f"Authorization scheme {scheme!r}"
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        key = parts["k"]
        if self.vapid_public_key is not None:
            assert key == self.vapid_public_key, "signed with another key than the app's public key"
        header_b64, claims_b64, signature_b64 = parts["t"].split(".")
        header = json.loads(unb64url(header_b64))
        assert header == {"typ": "JWT", "alg": "ES256"}, header
        signature = unb64url(signature_b64)
        assert len(signature) == 64
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        try:
            public.verify(
                encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                ),
                f"{header_b64}.{claims_b64}".encode(),
                ec.ECDSA(hashes.SHA256()),
            )
        except InvalidSignature:
            raise AssertionError("the VAPID JWT's signature does not verify") from None
        claims = json.loads(unb64url(claims_b64))
        assert claims["aud"] == self.url, f"aud {claims['aud']!r}"
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600, "exp must be within 24 hours"
        assert claims["sub"].startswith(("mailto:", "https://")), claims["sub"]

    def _take(self, token: str, headers: dict[str, str], body: bytes) -> int:
        """Check and decrypt one push; the status to answer."""
        device = self.devices.get(token)
        if device is None:
            return 404
        payload = None
        try:
            self.check_vapid(headers.get("authorization", ""))
            assert headers.get("content-encoding") == "aes128gcm", headers.get("content-encoding")
            assert headers.get("ttl", "").isdigit(), "a TTL header is required"
            plain = http_ece.decrypt(
                body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
        except Exception as exc:  # a broken push is a 400, as a real service answers; the test sees why
            self.problems.append(f"{type(exc).__name__}: {exc}")
            status = 400
        else:
            status = device.answer
        with self._changed:
            self.pushes.append(Push(token, payload, headers, status, body))
            self._changed.notify_all()
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = self.path.rsplit("/", 1)[-1]
                status = endpoint._take(token, {k.lower(): v for k, v in self.headers.items()}, body)
                device = endpoint.devices.get(token)
                self.send_response(status)
                if device is not None and device.retry_after and status in (429, 503):
                    self.send_header("Retry-After", device.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                """Quiet: the test output is the record."""

        return Handler
