"""Which browsers of which staff members hear Web Push: a subscription belongs to one staff member of one
practice, is checked field by field before it is stored, and goes when its person is deactivated."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import delete, select

from inbox.common import audit
from inbox.crypto import unb64url
from inbox.extensions import db, rowcount
from inbox.models import PushSubscription, User, utcnow

MAX_ENDPOINT = 2000  # the push services' endpoints are 150-400 characters
LOOPBACK_NAMES = ("localhost",)


class BadSubscription(ValueError):
    """A subscription the app cannot use (answered 400 naming the field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Checked:
    """A subscription's fields as stored."""

    endpoint: str
    p256dh: str
    auth: str


def endpoint_digest(endpoint: str) -> str:
    """The key a browser's one row is found by."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


def endpoint_host(endpoint: str) -> str:
    """Only the host: what logs and audit events may say of an endpoint (the rest addresses a browser)."""
    return urlsplit(endpoint).hostname or "?"


def _loopback(host: str) -> bool:
    """True for this machine's own addresses (a local push endpoint in development and tests)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_endpoint(value: Any) -> str:
    """An https URL on a known push service (http on loopback too, outside production)."""
    if not isinstance(value, str) or not value or len(value) > MAX_ENDPOINT:
        raise BadSubscription("endpoint", f"endpoint must be a URL of at most {MAX_ENDPOINT} characters")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise BadSubscription("endpoint", "endpoint is not a valid URL") from None
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise BadSubscription("endpoint", "endpoint is not a valid URL")
    local = _loopback(host) and current_app.config["INBOX_ENV"] != "production"
    if parts.scheme == "http" and local:
        return value
    if parts.scheme != "https":
        raise BadSubscription("endpoint", "endpoint must be an https:// URL")
    services = [s.strip().lower() for s in current_app.config["INBOX_PUSH_SERVICES"].split(",") if s.strip()]
    if not local and not any(host == s or host.endswith("." + s) for s in services):
        raise BadSubscription("endpoint", "endpoint must be on a browser's push service")
    return value


def _check_key(keys: dict[str, Any], name: str, length: int) -> str:
    """A base64url key of the given decoded length."""
    value = keys.get(name)
    try:
        if not isinstance(value, str) or len(value) > 200:
            raise ValueError
        raw = unb64url(value)
    except ValueError:
        raise BadSubscription(f"keys.{name}", f"keys.{name} must be base64url") from None
    if len(raw) != length:
        raise BadSubscription(f"keys.{name}", f"keys.{name} must be {length} bytes")
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise BadSubscription("keys.p256dh", "keys.p256dh is not a P-256 public key") from None
    return value.rstrip("=")


def check(data: dict[str, Any]) -> Checked:
    """The browser's PushSubscription JSON (`{endpoint, keys: {p256dh, auth}}`), or BadSubscription."""
    endpoint = _check_endpoint(data.get("endpoint"))
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise BadSubscription("keys", "keys must be an object with p256dh and auth")
    return Checked(endpoint, _check_key(keys, "p256dh", 65), _check_key(keys, "auth", 16))


BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """ "Chrome on Windows": the browser and the system only, so a person can tell their devices apart."""
    browser = next((name for token, name in BROWSERS if token in user_agent), None)
    if browser is None and re.search(r"Version/[\d.]+ .*Safari/", user_agent):
        browser = "Safari"
    system = next((name for token, name in SYSTEMS if token in user_agent), None)
    return f"{browser or 'A browser'} on {system or 'an unknown system'}"


def subscribe(user: User, checked: Checked, user_agent: str) -> PushSubscription:
    """Store (or refresh) this browser's subscription as the user's. A browser has one subscription
    per site, so one already stored for someone else (a shared workstation) becomes this person's."""
    digest = endpoint_digest(checked.endpoint)
    row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint_digest == digest))
    if row is not None and row.user_id != user.id:
        record_removal(row, "taken_over")
        db.session.delete(row)  # its pending pushes were the previous owner's
        db.session.flush()
        row = None
    if row is None:
        row = PushSubscription(
            practice_id=user.practice_id, user_id=user.id, endpoint=checked.endpoint, endpoint_digest=digest
        )
        db.session.add(row)
    row.p256dh, row.auth = checked.p256dh, checked.auth
    row.device = device_label(user_agent)[:60]
    row.failures = 0
    db.session.flush()
    audit.record("push.subscribe", row, host=endpoint_host(checked.endpoint), device=row.device)
    return row


def unsubscribe(user: User, endpoint: str | None = None, subscription_id: int | None = None) -> bool:
    """Remove one of the user's own subscriptions (by endpoint or id); False when it is not theirs."""
    query = select(PushSubscription).where(PushSubscription.user_id == user.id)
    if endpoint is not None:
        query = query.where(PushSubscription.endpoint_digest == endpoint_digest(endpoint))
    else:
        query = query.where(PushSubscription.id == subscription_id)
    row = db.session.scalar(query)
    if row is None:
        return False
    record_removal(row, "by_owner")
    db.session.delete(row)
    return True


def record_removal(row: PushSubscription, reason: str) -> None:
    """Audit a subscription's removal: whose it was, and of its endpoint only the host."""
    audit.record(
        "push.unsubscribe",
        row,
        practice_id=row.practice_id,
        owner_id=row.user_id,
        host=endpoint_host(row.endpoint),
        reason=reason,
    )


def remove_all(user: User, reason: str) -> int:
    """Remove every subscription of a person (deactivation): nothing more reaches their browsers."""
    removed = rowcount(
        db.session.execute(
            delete(PushSubscription).where(PushSubscription.user_id == user.id),
            execution_options={"synchronize_session": False},
        )
    )
    if removed:
        audit.record("push.unsubscribe", user, count=removed, reason=reason)
    return removed


def devices_of(user: User) -> list[PushSubscription]:
    """The user's subscribed browsers, newest first."""
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.id.desc())
        )
    )


def succeeded(row: PushSubscription) -> None:
    """A push reached the service for this browser."""
    row.last_success_at = utcnow()
    row.failures = 0
