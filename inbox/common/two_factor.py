"""Two-factor login (TOTP, RFC 6238): enrolment, codes, one-time recovery codes, and removal.

The secret is sealed with the keyring, bound to its enrolment row (which belongs to one user), so a
ciphertext copied onto someone else's enrolment fails to open. A code is accepted for the current 30 s
step and the ones either side (a phone's clock drifts), and only for a step newer than the last one
accepted, so an overheard code cannot be replayed within its window. Recovery codes are random (about
59 bits each) and stored as SHA-256 hashes only; spending one is an UPDATE that only one request wins.
Callers commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, select, update

from inbox.common import audit
from inbox.extensions import db, rowcount
from inbox.models import RecoveryCode, TwoFactor, User, utcnow

ISSUER = "Intake Inbox"
RECOVERY_CODES = 10
DRIFT_STEPS = 1  # the 30 s windows accepted either side of now
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt
_CODE = re.compile(r"\d{6}")


def enrolment(user: User) -> TwoFactor | None:
    """The user's enrolment, confirmed or still being set up."""
    return db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == user.id))


def is_enrolled(user: User) -> bool:
    """Whether a login of this user owes a code after the password."""
    found = enrolment(user)
    return found is not None and found.confirmed_at is not None


def enrolled_ids(practice_id: int) -> set[int]:
    """Ids of the practice's staff with two-factor in force (one query, for the staff list)."""
    return set(
        db.session.scalars(
            select(TwoFactor.user_id)
            .join(User, User.id == TwoFactor.user_id)
            .where(User.practice_id == practice_id, TwoFactor.confirmed_at.is_not(None))
        )
    )


def start(user: User) -> TwoFactor:
    """A fresh secret for the user to scan; not in force until `confirm` (replaces one being set up)."""
    db.session.execute(
        delete(TwoFactor).where(TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_(None))
    )
    pending = TwoFactor(user_id=user.id, secret=pyotp.random_base32())
    db.session.add(pending)
    db.session.flush()
    return pending


def provisioning_uri(pending: TwoFactor, user: User) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code (the email names the account)."""
    return pyotp.TOTP(pending.secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data: URI, which an <img> shows under the strict CSP (img-src data:)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def spaced(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def verify_code(found: TwoFactor, code: str, now: datetime | None = None) -> bool:
    """A six-digit code of the current step or one either side, never one of a step already used."""
    code = re.sub(r"\s", "", code)
    if not _CODE.fullmatch(code):
        return False
    totp = pyotp.TOTP(found.secret)
    current = totp.timecode(now or utcnow())
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            # Only one request can move last_step past this step: a second use of the code loses.
            moved = db.session.execute(
                update(TwoFactor)
                .where(TwoFactor.id == found.id, TwoFactor.last_step < step)
                .values(last_step=step)
            )
            return bool(rowcount(moved))
    return False


def _hash(found: TwoFactor, code: str) -> str:
    """The stored form of a recovery code: typed with or without dashes, in any case."""
    normal = re.sub(r"[^a-z0-9]", "", code.lower())
    return hashlib.sha256(f"{found.uid}:{normal}".encode()).hexdigest()


def _recovery_code() -> str:
    """One recovery code, as `abcd-efgh-jkmn`."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def new_recovery_codes(found: TwoFactor) -> list[str]:
    """Ten fresh one-time codes (the old ones stop working); returned once, kept only as hashes."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.two_factor_id == found.id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(two_factor_id=found.id, code_hash=_hash(found, c)) for c in codes)
    return codes


def confirm(pending: TwoFactor, user: User, code: str) -> list[str] | None:
    """Put the enrolment in force once the person proves a code; returns the recovery codes, or None."""
    if pending.confirmed_at is not None or not verify_code(pending, code):
        return None
    pending.confirmed_at = utcnow()
    audit.record("two_factor.enrol", user, user_id=user.id)
    return new_recovery_codes(pending)


def remaining_codes(found: TwoFactor) -> int:
    """Recovery codes not yet spent."""
    return db.session.execute(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.two_factor_id == found.id, RecoveryCode.used_at.is_(None)
        )
    ).scalar_one()


def use_recovery_code(found: TwoFactor, user: User, code: str) -> bool:
    """Spend a recovery code: true once; its second use, or a code it never issued, is false."""
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.two_factor_id == found.id,
            RecoveryCode.code_hash == _hash(found, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if not rowcount(spent):
        return False
    audit.record("two_factor.recovery_used", user, user_id=user.id, remaining=remaining_codes(found))
    return True


def check(user: User, code: str) -> str | None:
    """The second step of a login: 'totp' or 'recovery' when `code` is right, None when not."""
    found = enrolment(user)
    if found is None or found.confirmed_at is None:
        return None
    if _CODE.fullmatch(re.sub(r"\s", "", code)):
        return "totp" if verify_code(found, code) else None
    return "recovery" if use_recovery_code(found, user, code) else None


def remove(user: User, action: str) -> bool:
    """Take the enrolment away (`two_factor.disable` by the person, `two_factor.reset` by an admin)."""
    found = enrolment(user)
    if found is None:
        return False
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.two_factor_id == found.id))
    db.session.delete(found)
    if found.confirmed_at is not None:
        audit.record(action, user)  # the actor is the logged-in person: the user, or their admin
    return True
