"""The crisis safety net: a person's words that read as risk (texting.risk: a text, the public form's
reason, a phone intake's notes) raise an alert that stays until a staff member acknowledges it, and a
text outside office hours earns the practice's safety reply.

It only ever adds: the text is stored, shown and routed exactly as any other. The alert is written in
the webhook's own transaction (inbound._store calls `raise_alert`), so a risk text that arrives while
the worker is down is still flagged, alerted and answered the moment the webhook stores it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from inbox.common import audit
from inbox.extensions import db
from inbox.models import Contact, Journey, Message, Practice, SafetyAlert, User, utcnow
from inbox.notify import webpush
from inbox.presenters import iso, safety_alert_json
from inbox.realtime import practice_room, push
from inbox.texting import escalation
from inbox.texting.risk import Assessment, assess
from inbox.texting.thread import log_activity
from inbox.vocabulary import ConsentState

REPLY_EVERY = timedelta(hours=12)  # one safety reply per contact per 12 hours, however many texts
MAX_NOTE = 1000
MAX_OPEN_LISTED = 200


class NothingToAcknowledge(LookupError):
    """The journey has no open alert (someone in another tab acknowledged it first)."""


def in_office_hours(practice: Practice, now: datetime) -> bool:
    """True when staff read texts now: an office day, between its hours, and not a holiday."""
    local = now.astimezone(ZoneInfo(practice.timezone))
    if local.date().isoformat() in (practice.holidays or []):
        return False
    if str(local.isoweekday()) not in (practice.office_days or ""):
        return False
    minutes = local.hour * 60 + local.minute
    return practice.office_start <= minutes < practice.office_end


def parse_holidays(text: str) -> list[str]:
    """ISO dates, one per line (or comma separated), sorted and deduplicated; ValueError names a bad one."""
    days = set()
    for item in text.replace(",", "\n").split():
        try:
            days.add(date.fromisoformat(item).isoformat())
        except ValueError as exc:
            raise ValueError(f"{item[:20]!r} is not a date like 2026-12-25") from exc
    return sorted(days)


def raise_alert(
    contact: Contact,
    journey: Journey,
    msg: Message,
    finding: Assessment,
    *,
    source: str = "sms",
    reply: Callable[[], Message] | None = None,
    now: datetime | None = None,
) -> SafetyAlert:
    """Open an alert for a person's words that read as risk (a text, the public form's reason, or what
    staff wrote down on a phone intake), saying why it fired, and tell every tab (after commit).

    `reply` writes the safety reply when one is owed now: out of office hours, the number not opted out
    (the carrier would refuse it anyway), and none sent to this contact in the last 12 hours. The
    webhook passes it (its keyword-reply path, which no consent hold stops) unless it owes a keyword
    reply already; a form has no thread to answer on."""
    now = now or utcnow()
    practice = contact.practice
    owed = (
        reply is not None
        and contact.consent_state != ConsentState.OPTED_OUT
        and not in_office_hours(practice, now)
        and db.session.scalar(
            select(SafetyAlert.id)
            .where(SafetyAlert.contact_id == contact.id, SafetyAlert.replied_at > now - REPLY_EVERY)
            .limit(1)
        )
        is None
    )
    alert = SafetyAlert(
        practice_id=practice.id,
        journey=journey,
        contact_id=contact.id,
        message=msg,
        category=finding.category,
        level=finding.level,
        cue=finding.cue[:80],
        about=finding.about,
        source=source,
        replied_at=now if owed else None,
        reply=reply() if owed and reply is not None else None,
        escalations=[],  # a new alert has none: its card needs no query to say so
        created_at=now,
    )
    db.session.add(alert)  # flushed with the next statement (or the commit): no statement of its own
    escalation.schedule(alert, now)  # texts the on-call rota if nobody acknowledges it in time
    webpush.notify_safety(alert)  # and to staff browsers with the tab closed (the worker sends it)
    announce(alert)
    return alert


def announce(alert: SafetyAlert, event: str = "safety.alert") -> None:
    """Tell every tab of the practice about an alert (after commit): raised, or changed since (its
    reply's delivery, an escalation step) as `safety.updated`."""
    practice = alert.journey.contact.practice
    push(event, safety_alert_json(practice, alert), practice_room(practice.id))


def check_words(journey: Journey, msg: Message, words: str, *, source: str) -> SafetyAlert | None:
    """Run words a person gave us outside a text (the public form's reason, what staff wrote down on a
    phone intake) through the detector, and on risk flag `msg` and raise the alert. No safety reply:
    the form's own page shows the crisis lines, and on a phone intake staff are talking to the caller."""
    finding = assess(words)
    if finding is None:
        return None
    msg.flags = {**(msg.flags or {}), **risk_flags(finding)}
    return raise_alert(journey.contact, journey, msg, finding, source=source)


def risk_flags(finding: Assessment) -> dict[str, bool | str]:
    """The flags a message whose words read as risk carries (the thread marks it, search can find it)."""
    return {"risk": True, "risk_category": finding.category, "risk_level": finding.level}


def reply_changed(reply: Message) -> None:
    """A safety reply's delivery moved on (Twilio's callback): the alert that owes it shows it live."""
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.reply_id == reply.id))
    if alert is not None:
        announce(alert, "safety.updated")


def open_alerts(practice_id: int) -> list[SafetyAlert]:
    """The practice's unacknowledged alerts, oldest first, with what their popups show loaded."""
    return list(
        db.session.scalars(
            select(SafetyAlert)
            .where(SafetyAlert.practice_id == practice_id, SafetyAlert.acknowledged_at.is_(None))
            .options(
                joinedload(SafetyAlert.journey).joinedload(Journey.contact),
                joinedload(SafetyAlert.message).selectinload(Message.attachments),
            )
            .order_by(SafetyAlert.id)
            .limit(MAX_OPEN_LISTED)
        )
    )


def acknowledge(journey: Journey, actor: User, note: str | None) -> list[int]:
    """Close every open alert of the journey; the note goes in the thread as an activity line (sealed
    like any message). Audited and pushed to every tab. Returns the flagged messages' ids."""
    now = utcnow()
    # One conditional UPDATE: of two people acknowledging at once, only one closes each alert.
    rows = list(
        db.session.execute(
            update(SafetyAlert)
            .where(SafetyAlert.journey_id == journey.id, SafetyAlert.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by_id=actor.id, escalate_at=None)  # chain stops
            .returning(SafetyAlert.id, SafetyAlert.message_id),
            execution_options={"synchronize_session": False},
        )
    )
    if not rows:
        raise NothingToAcknowledge("this journey has no open safety alert")
    words = f"{actor.display_name} acknowledged the safety alert"
    line = log_activity(journey, f"{words}: {note}" if note else words, actor)
    db.session.execute(
        update(SafetyAlert).where(SafetyAlert.id.in_([r.id for r in rows])).values(ack_line_id=line.id),
        execution_options={"synchronize_session": False},
    )
    message_ids = sorted(r.message_id for r in rows)
    audit.record("safety.acknowledge", journey, message_ids=message_ids, with_note=bool(note))
    push(
        "safety.acknowledged",
        {
            "journey_id": journey.id,
            "message_ids": message_ids,
            "acknowledged_by": actor.display_name,
            "acknowledged_at": iso(now),
        },
        practice_room(journey.practice_id),
    )
    return message_ids
