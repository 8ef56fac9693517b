"""The JSON shapes of records, shared by the API and the Socket.IO pushes (docs/API.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from inbox.common.phones import pretty
from inbox.gateway.errors import error_reason
from inbox.models import (
    ATTACHMENT_LABELS,
    Attachment,
    ConsentEvent,
    Contact,
    Journey,
    Mention,
    Message,
    OptOutRequest,
    Practice,
    SafetyAlert,
    SafetyEscalation,
    Template,
    User,
)
from inbox.vocabulary import ALERT_SOURCES, RISK_CATEGORIES, RISK_LEVELS, AttachmentStatus, Direction

SNIPPET_CHARS = 80


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return value.isoformat() if value else None


def attachment_json(att: Attachment) -> dict[str, Any]:
    """An attachment with the URLs that serve it (decrypted, to authorised staff only)."""
    ready = att.status == AttachmentStatus.READY
    return {
        "id": att.id,
        "message_id": att.message_id,
        "status": att.status,
        "content_type": att.content_type,
        "size": att.size,
        "width": att.width,
        "height": att.height,
        "error": att.error,
        "label": att.label,
        "label_text": ATTACHMENT_LABELS.get(att.label or "", None),
        "reviewed_by": att.reviewed_by.display_name if att.reviewed_by else None,
        "reviewed_at": iso(att.reviewed_at),
        # Plain paths, not url_for: the worker builds these too, outside any request.
        "url": f"/attachments/{att.id}" if ready else None,
        "thumbnail_url": f"/attachments/{att.id}?variant=thumb" if ready and att.has_thumbnail else None,
        "download_url": f"/attachments/{att.id}?download=1" if ready else None,
    }


def shown_name(contact: Contact) -> str:
    """What staff see for a contact: the name, or the number as people write it when nobody named them."""
    return contact.full_name or pretty(contact.phone)


def message_json(msg: Message) -> dict[str, Any]:
    """A message as the thread shows it; the body is decrypted here, for entitled callers only."""
    if msg.direction in (Direction.ACTIVITY, Direction.NOTE):
        sender = msg.author.display_name if msg.author else "System"
    elif msg.direction == Direction.OUTBOUND:
        sender = msg.author.display_name if msg.author else "Automation"
    else:
        sender = shown_name(msg.contact)
    return {
        "id": msg.id,
        "journey_id": msg.journey_id,
        "direction": msg.direction,
        "kind": msg.kind,
        "body": None if msg.redacted_at or msg.purged_at else msg.body,
        "status": msg.status,
        "error_code": msg.error_code,
        "error_reason": msg.error_reason or error_reason(msg.error_code),
        "sender": sender,
        "flags": msg.flags or {},
        "not_before": iso(msg.not_before),
        "consent_decision": msg.consent_decision if msg.direction == Direction.OUTBOUND else None,
        "redacted_at": iso(msg.redacted_at),
        "redacted_by": msg.redacted_by.display_name if msg.redacted_by else None,
        "purged_at": iso(msg.purged_at),  # removed by the practice's retention policy
        "created_at": iso(msg.created_at),
        "attachments": [attachment_json(a) for a in msg.attachments],
    }


def snippet(msg: Message | None) -> str:
    """A short one-line preview of a message body."""
    if msg is None or msg.redacted_at or msg.purged_at:
        return ""
    text = " ".join((msg.body or "").split())
    if not text and msg.attachments:
        return "[photo]"
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def initials(contact: Contact) -> str:
    """Initials only, for popups when the practice keeps ePHI out of them."""
    parts = [p[0].upper() for p in (contact.first_name, contact.last_name) if p]
    return "".join(parts) or "?"


def last_from(msg: Message) -> str:
    """Who wrote a journey's last text, as the inbox row says it: the contact, staff, or an automation."""
    if msg.direction == Direction.INBOUND:
        return "contact"
    return "staff" if msg.author_id is not None else "auto"


def journey_json(
    journey: Journey, last: Message | None = None, unread: int = 0, safety_open: bool | None = None
) -> dict[str, Any]:
    """A journey as the inbox list shows it. The fields about its last text (snippet, waiting, last_from,
    last_author...) are None when this push does not carry that text: the page keeps what it shows;
    so is `safety_open` (an unacknowledged safety alert) outside the list, where the alert events tell."""
    return {
        "id": journey.id,
        "contact_id": journey.contact_id,
        "contact": shown_name(journey.contact),
        "pathway": journey.pathway,
        "pathway_label": journey.pathway_label,
        "stage": journey.stage,
        "is_open": journey.is_open,
        "is_inquiry": journey.is_inquiry,
        "assignee_id": journey.assignee_id,
        "assignee": journey.assignee.display_name if journey.assignee else None,
        "consent_state": journey.contact.consent_state,
        "last_activity_at": iso(journey.last_activity_at),
        "appointment_at": iso(journey.appointment_at),
        "paperwork_due_at": iso(journey.paperwork_due_at),
        "snoozed_until": iso(journey.snoozed_until),
        "last_message_id": journey.last_message_id,
        # None when this push does not carry the journey's newest text: the page keeps what it shows.
        "snippet": snippet(last) if last is not None else None,
        # The two-pane workspace (issue 18): who is waiting, and the row's consent chip.
        "waiting": last.direction == Direction.INBOUND if last is not None else None,
        "last_from": last_from(last) if last is not None else None,
        "last_author_id": last.author_id if last is not None else None,
        "last_author": last.author.first_name if last is not None and last.author else None,
        "consent_colour": journey.contact.consent_colour,
        "unread": unread,
        "safety_open": safety_open,
        "url": f"/journeys/{journey.id}",
    }


def search_hit_json(journey: Journey, msg: Message | None, snippet_text: str) -> dict[str, Any]:
    """One search result: the journey as the inbox lists it, the message that matched (or None when the
    contact's name or number did), and the words around the match."""
    return {"journey": journey_json(journey), "message_id": msg.id if msg else None, "snippet": snippet_text}


def _popup(practice: Practice, msg: Message, label: str, what: str) -> dict[str, Any]:
    """A top-right popup about a text: name and `label` + snippet, or (when the practice keeps ePHI
    out of popups) initials and `what` with the pathway only."""
    journey = msg.journey
    if practice.ephi_in_popups:
        title, text = shown_name(journey.contact), label + snippet(msg)
    else:
        title, text = initials(journey.contact), f"{what} · {journey.pathway_label}"
    return {
        "journey_id": journey.id,
        "message_id": msg.id,
        "title": title,
        "snippet": text,
        # For desktop notifications, which lock screens show: never ePHI, whatever the popup setting.
        "plain": {
            "title": f"{what} · {initials(journey.contact)}" if journey.contact.full_name else what,
            "body": journey.pathway_label,
        },
        "pathway": journey.pathway,
        "url": f"/journeys/{journey.id}",
    }


def notification_json(practice: Practice, msg: Message) -> dict[str, Any]:
    """The top-right popup for an inbound text; initials and pathway only if the practice says so."""
    return _popup(practice, msg, "", "New text")


def safety_alert_json(practice: Practice, alert: SafetyAlert) -> dict[str, Any]:
    """An open crisis-language alert as its popup and the alert list show it. Without ePHI in popups:
    initials and pathway only (not even the kind of risk, which says something about the person).
    Keyed by the flagged message (one alert each): the webhook pushes this before the alert's own
    INSERT, which rides on the next flush, so the alert's id is not known yet."""
    label = f"{RISK_CATEGORIES.get(alert.category, 'Risk')} language: "
    shown = {
        **_popup(practice, alert.message, label, "Safety alert"),
        "replied": alert.replied_at is not None,  # the after-hours safety reply went with it
        "reply": _reply_json(alert.reply),
        "escalations": [escalation_json(step) for step in alert.escalations],
        "next_escalation_at": iso(alert.escalate_at),
        "created_at": iso(alert.created_at),
    }
    if practice.ephi_in_popups:
        # Why it fired: the level screened for and the rule's fixed cue (never the person's words).
        shown["why"] = alert_why(alert)
    return shown


def alert_why(alert: SafetyAlert) -> dict[str, Any]:
    """Why an alert fired, as staff read it: category, level, the rule's cue, whose risk, from where."""
    return {
        "category": alert.category,
        "category_label": RISK_CATEGORIES.get(alert.category, "Risk"),
        "level": alert.level,
        "level_label": RISK_LEVELS.get(alert.level or "", None),
        "cue": alert.cue,
        "about": alert.about,  # "other": the writer reports someone else's risk
        "source": alert.source,
        "source_label": ALERT_SOURCES.get(alert.source, alert.source),
    }


def _reply_json(reply: Message | None) -> dict[str, Any] | None:
    """The safety reply's delivery as its alert shows it (status and the carrier's reason if it failed)."""
    if reply is None:
        return None
    return {
        "message_id": reply.id,
        "status": reply.status,
        "error": reply.error_reason or error_reason(reply.error_code),
    }


def escalation_json(step: SafetyEscalation) -> dict[str, Any]:
    """One escalation text as the alert's card and the alerts report show it (a staff name, no ePHI)."""
    return {
        "step": step.step,
        "to": step.user.display_name,
        "status": step.status,
        "error": step.error,
        "at": iso(step.sent_at or step.created_at),
    }


def contact_json(contact: Contact, badge: dict[str, Any]) -> dict[str, Any]:
    """A journey page's contact header: who, their number as people write it, and the consent badge."""
    return {
        "id": contact.id,
        "name": contact.full_name,
        "phone": pretty(contact.phone),
        "guardian": contact.guardian_name,
        "consent": badge,
    }


def mention_json(mention: Mention) -> dict[str, Any]:
    """One entry of a staff member's Mentions list: who mentioned them where, the note's first words."""
    journey = mention.message.journey
    return {
        "id": mention.id,
        "message_id": mention.message_id,
        "journey_id": mention.message.journey_id,  # the note may have moved since
        "contact": shown_name(journey.contact),
        "pathway_label": journey.pathway_label,
        "by": {"id": mention.by.id, "name": mention.by.display_name},
        "snippet": snippet(mention.message),
        "read_at": iso(mention.read_at),
        "created_at": iso(mention.created_at),
        "url": f"/journeys/{mention.message.journey_id}",
    }


def consent_event_json(event: ConsentEvent) -> dict[str, Any]:
    """One entry of a contact's consent ledger, with its evidence."""
    return {
        "id": event.id,
        "state": event.state,
        "source": event.source,
        "evidence": event.evidence,
        "actor": event.actor.display_name if event.actor else None,
        "message_sid": event.message_sid,
        "created_at": iso(event.created_at),
    }


def preview_json(body: str, decision: Any, segments: Any) -> dict[str, Any]:
    """What the composer shows before sending: the filled-in text, the consent decision, the segments."""
    return {
        "body": body,
        "decision": {
            "action": decision.action,
            "reason": decision.reason,
            "not_before": iso(decision.not_before),
        },
        "segments": {
            "encoding": segments.encoding,
            "characters": segments.characters,
            "count": segments.segments,
        },
    }


def template_json(template: Template) -> dict[str, Any]:
    """A manual template the composer offers."""
    return {"id": template.id, "name": template.name, "body": template.body}


def staff_json(user: User) -> dict[str, Any]:
    """A staff member as the assignment menu lists them."""
    return {"id": user.id, "name": user.display_name}


def opt_out_request_json(request: OptOutRequest, business_days_left: int, due_on: date) -> dict[str, Any]:
    """A text that reads like an opt-out, waiting for staff: what it says, who sent it, the days left."""
    msg, contact = request.message, request.contact
    return {
        "id": request.id,
        "message_id": msg.id,
        "journey_id": msg.journey_id,
        "url": f"/journeys/{msg.journey_id}",
        "contact_id": contact.id,
        "contact": shown_name(contact),
        "phone": pretty(contact.phone),
        "body": msg.body,
        "received_at": iso(request.created_at),
        "business_days_left": business_days_left,
        "due_on": due_on.isoformat(),
        "decision": request.decision,
    }
