"""The on-call rota for safety alerts, as an admin sets it: per shift (office hours, after hours) a first
and a second person, the minutes an alert waits before each escalation step, and staff's own mobile
numbers (sealed like a contact's number, shown masked).

`parse_rota` checks a whole change before anything is stored, so a malformed rota is a RotaError (a
400 with its message) and never half-saved; `save_rota` applies a checked one and audits field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from inbox.common import audit
from inbox.common.inputs import parse_id
from inbox.common.phones import InvalidNumber, to_e164
from inbox.extensions import db
from inbox.models import OnCallSlot, Practice, StaffPhone, User

SHIFTS = {"office": "Office hours", "after_hours": "After hours"}
RANKS = {"first": 1, "second": 2}
MIN_MINUTES, MAX_MINUTES = 1, 60
MAX_PHONES = 500  # entries of one change: far more than any practice's staff


class RotaError(ValueError):
    """A rota change that cannot be stored, said in words for the admin (answered 400)."""


@dataclass
class RotaChange:
    """A checked change: only what the request named is in it."""

    slots: dict[tuple[str, int], int | None] = field(default_factory=dict)  # (shift, rank) -> user id
    minutes: int | None = None
    phones: dict[int, str | None] = field(default_factory=dict)  # user id -> E.164, None removes it


def staff_of(practice_id: int, *, active_only: bool = True) -> list[User]:
    """The practice's staff, by name: whom the rota can name and whose phones it lists."""
    query = select(User).where(User.practice_id == practice_id)
    if active_only:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query.order_by(User.first_name, User.last_name, User.email)))


def _person(value: Any, members: Mapping[int, User], where: str) -> int | None:
    """An active staff member's id from a slot or phone key (empty: nobody), else RotaError."""
    if value is None or value == "":
        return None
    user_id = parse_id(value)
    if user_id is None:
        raise RotaError(f"{where}: {str(value)[:20]!r} is not a staff member's id")
    if user_id not in members:
        raise RotaError(f"{where}: there is no active staff member {user_id} in this practice")
    return user_id


def _minutes(value: Any) -> int:
    """Escalation minutes, a whole number from 1 to 60 (a form sends it as text)."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MINUTES <= value <= MAX_MINUTES:
        raise RotaError(f"escalation minutes must be a whole number from {MIN_MINUTES} to {MAX_MINUTES}")
    return value


def _slots(value: Any, members: Mapping[int, User]) -> dict[tuple[str, int], int | None]:
    """{"office": {"first": id, "second": id}, "after_hours": {...}}, each part optional."""
    if not isinstance(value, dict):
        raise RotaError("slots must be an object of shifts (office, after_hours)")
    slots: dict[tuple[str, int], int | None] = {}
    for shift, ranks in value.items():
        if shift not in SHIFTS:
            raise RotaError(f"unknown shift {str(shift)[:20]!r}: use office or after_hours")
        if not isinstance(ranks, dict):
            raise RotaError(f"slots.{shift} must be an object with first and second")
        for rank, who in ranks.items():
            if rank not in RANKS:
                raise RotaError(f"unknown slot {str(rank)[:20]!r} of {shift}: use first or second")
            slots[shift, RANKS[rank]] = _person(who, members, f"{SHIFTS[shift]}, {rank} on call")
    return slots


def _phones(value: Any, members: Mapping[int, User]) -> dict[int, str | None]:
    """{"<user id>": "(415) 555-0142" or "" to remove}: each number normalised to E.164."""
    if not isinstance(value, dict) or len(value) > MAX_PHONES:
        raise RotaError("phones must be an object of staff ids and numbers")
    phones: dict[int, str | None] = {}
    for key, raw in value.items():
        user_id = _person(key, members, "phone")
        if user_id is None:
            raise RotaError("phone: a number needs a staff member")
        if raw is not None and not isinstance(raw, str):
            raise RotaError(f"the phone of {members[user_id].display_name} must be text")
        phones[user_id] = normalise_phone(raw, members[user_id])
    return phones


def normalise_phone(raw: str | None, owner: User) -> str | None:
    """A typed mobile number in E.164 (empty: none), or RotaError naming whose number is wrong."""
    if raw is None or not raw.strip():
        return None
    try:
        return to_e164(raw.strip())
    except InvalidNumber as exc:
        raise RotaError(f"the phone of {owner.display_name} is {exc}") from exc


def parse_rota(practice: Practice, data: Any) -> RotaChange:
    """Check a whole change (a JSON object, or a form made into one) before anything is stored."""
    if not isinstance(data, dict):
        raise RotaError("send an object with slots, escalation_minutes and phones")
    unknown = set(data) - {"slots", "escalation_minutes", "phones"}
    if unknown:
        raise RotaError(f"unknown field {sorted(map(str, unknown))[0][:30]!r}")
    members = {u.id: u for u in staff_of(practice.id)}
    change = RotaChange()
    if "slots" in data:
        change.slots = _slots(data["slots"], members)
    if "escalation_minutes" in data:
        change.minutes = _minutes(data["escalation_minutes"])
    if "phones" in data:
        change.phones = _phones(data["phones"], members)
    current = {key: user.id for key, user in rota(practice.id).items() if user is not None}
    for shift, label in SHIFTS.items():
        first, second = (change.slots.get((shift, r), current.get((shift, r))) for r in (1, 2))
        if first is not None and first == second:
            raise RotaError(f"{label}: pick two different people as first and second on call")
    return change


def rota(practice_id: int) -> dict[tuple[str, int], User | None]:
    """Who holds each of the four slots (None: nobody)."""
    held = {
        (slot.shift, slot.rank): slot.user
        for slot in db.session.scalars(select(OnCallSlot).where(OnCallSlot.practice_id == practice_id))
    }
    return {(shift, rank): held.get((shift, rank)) for shift in SHIFTS for rank in RANKS.values()}


def on_call(practice_id: int, shift: str, rank: int) -> User | None:
    """The person in one slot of the rota, or None."""
    return db.session.scalar(
        select(User)
        .join(OnCallSlot, OnCallSlot.user_id == User.id)
        .where(OnCallSlot.practice_id == practice_id, OnCallSlot.shift == shift, OnCallSlot.rank == rank)
    )


def phone_of(user_id: int) -> str | None:
    """A staff member's own number (E.164), unsealed, or None when none is on file."""
    row = db.session.scalar(select(StaffPhone).where(StaffPhone.user_id == user_id))
    return row.phone if row is not None else None


def phones_of(user_ids: list[int]) -> dict[int, str]:
    """Several staff members' own numbers, by user id."""
    rows = db.session.scalars(select(StaffPhone).where(StaffPhone.user_id.in_(user_ids)))
    return {row.user_id: row.phone for row in rows if row.phone}


def masked(e164: str | None) -> str:
    """A number as the pages show it: only its last four digits."""
    return f"••• ••• {e164[-4:]}" if e164 else ""


def set_phone(user: User, e164: str | None) -> bool:
    """Store (sealed), replace or remove a staff member's own number; True when it changed."""
    row = db.session.scalar(select(StaffPhone).where(StaffPhone.user_id == user.id))
    if row is not None and e164 is not None and row.phone == e164:
        return False
    if row is None and e164 is None:
        return False
    if row is not None:
        db.session.delete(row)
        db.session.flush()  # a new row replaces it: user_id is unique
    if e164 is not None:
        db.session.add(StaffPhone(user_id=user.id, phone=e164))
    return True


def save_rota(practice: Practice, change: RotaChange, actor: User) -> list[str]:
    """Apply a checked change; audited with the names of what changed (never a number). Caller commits."""
    changed: list[str] = []
    slots = {
        (s.shift, s.rank): s
        for s in db.session.scalars(select(OnCallSlot).where(OnCallSlot.practice_id == practice.id))
    }
    names = {rank: name for name, rank in RANKS.items()}
    for (shift, rank), user_id in change.slots.items():
        slot = slots.get((shift, rank))
        if (slot.user_id if slot else None) == user_id:
            continue
        if slot is not None and user_id is None:
            db.session.delete(slot)
        elif slot is not None and user_id is not None:
            slot.user_id = user_id
        elif user_id is not None:
            db.session.add(OnCallSlot(practice_id=practice.id, shift=shift, rank=rank, user_id=user_id))
        changed.append(f"{shift}.{names[rank]}")
    if change.minutes is not None and change.minutes != practice.escalation_minutes:
        practice.escalation_minutes = change.minutes
        changed.append("escalation_minutes")
    phones_changed = [
        user_id
        for user_id, e164 in change.phones.items()
        if set_phone(db.session.get_one(User, user_id), e164)
    ]
    if changed or phones_changed:
        audit.record("oncall.update", practice, fields=changed, phones_of=sorted(phones_changed))
    return changed + [f"phone.{user_id}" for user_id in sorted(phones_changed)]
