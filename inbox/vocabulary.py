"""The product's words for states and kinds, as StrEnums, and the named sets of them the rules use.

A StrEnum member is its string ("queued"), so rows, JSON and templates hold plain words, and the CHECK
constraints in migration 0004 hold the same lists. The front end gets these sets from `for_pages()`
(a JSON island in every logged-in page), never its own copies.
"""

from __future__ import annotations

from enum import StrEnum


class ConsentState(StrEnum):
    """A contact's text consent, derived from the ledger."""

    UNKNOWN = "unknown"
    PENDING = "pending"  # the opt-in request went; no answer yet
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


class OptOutDecision(StrEnum):
    """What became of a text that read like an opt-out."""

    CONFIRMED = "confirmed"  # staff recorded the opt-out
    DISMISSED = "dismissed"  # staff judged it was not one, and said why
    SUPERSEDED = "superseded"  # the contact opted out otherwise first (STOP, carrier, staff)


class Direction(StrEnum):
    """Which way a thread line goes; activity lines and notes stay inside the app."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    ACTIVITY = "activity"
    NOTE = "note"  # an internal note: staff only, never sent, never an answer to the contact


class Kind(StrEnum):
    """What a message is."""

    INBOUND = "inbound"  # a text the person sent
    WEB_REQUEST = "web_request"  # the person's request on the public form
    STAFF = "staff"
    AUTOMATED = "automated"
    OPT_IN_REQUEST = "opt_in_request"
    KEYWORD_REPLY = "keyword_reply"
    ACTIVITY = "activity"
    NOTE = "note"  # an internal note (the workspace issue): never sent


class Status(StrEnum):
    """A message's life: `received` inbound, `logged` for activity, the rest outbound."""

    RECEIVED = "received"
    LOGGED = "logged"
    HELD_FOR_CONSENT = "held_for_consent"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    UNCONFIRMED = "unconfirmed"  # the send may have reached Twilio: staff check, we never resend
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Pathway(StrEnum):
    """Where a journey is in the practice's care."""

    INTAKE = "intake"
    WAITLIST = "waitlist"
    CURRENT = "current"


class AttachmentLabel(StrEnum):
    """What staff say a photo is."""

    INSURANCE_FRONT = "insurance_front"
    INSURANCE_BACK = "insurance_back"
    PHOTO_ID = "photo_id"
    OTHER = "other"


class AttachmentStatus(StrEnum):
    """A media job's state."""

    PENDING = "pending"
    READY = "ready"
    UNAVAILABLE = "unavailable"
    REDACTED = "redacted"  # destroyed by an admin
    PURGED = "purged"  # destroyed by the retention policy


class LoginStep(StrEnum):
    """What a login still owes after its password (a full login owes nothing: None)."""

    SECOND_FACTOR = "code"  # enrolled: the code from the app, or a recovery code
    ENROL = "enrol"  # the practice requires two-factor and this person has none yet


# Keyed by str: the columns hold plain strings, and a StrEnum member hashes and compares as its value.
PATHWAY_LABELS: dict[str, str] = {
    Pathway.INTAKE: "Intake",
    Pathway.WAITLIST: "Waitlist",
    Pathway.CURRENT: "Current Clients",
}
LABEL_TEXT: dict[str, str] = {
    AttachmentLabel.INSURANCE_FRONT: "Insurance card (front)",
    AttachmentLabel.INSURANCE_BACK: "Insurance card (back)",
    AttachmentLabel.PHOTO_ID: "Photo ID",
    AttachmentLabel.OTHER: "Other",
}

# Outbound texts still waiting here, never handed to Twilio: staff may cancel them.
CANCELLABLE = (Status.HELD_FOR_CONSENT, Status.SCHEDULED, Status.QUEUED)
# What STOP cancels: everything not yet handed to Twilio (a claimed text is checked one by one).
LEFT_FOR_TWILIO = (Status.HELD_FOR_CONSENT, Status.SCHEDULED, Status.QUEUED, Status.SENDING)
# Outbound texts with an outcome that can no longer change here.
FINISHED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.CANCELLED)
# Outbound texts whose state may still change, so a page re-reads them after a network blip.
UNSETTLED = frozenset(
    {
        Status.HELD_FOR_CONSENT,
        Status.SCHEDULED,
        Status.QUEUED,
        Status.SENDING,
        Status.SENT,
        Status.UNCONFIRMED,
    }
)
FAILED_STATUSES = (Status.UNDELIVERED, Status.FAILED)
# Texts that went to the carrier with an outcome (spam watch counts them as sent).
CARRIED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.FAILED)
# Texts the app sends by itself: they move a journey up the inbox but never replace the preview of what a
# person wrote.
AUTOMATIC_KINDS = (Kind.AUTOMATED, Kind.OPT_IN_REQUEST, Kind.KEYWORD_REPLY)
# What staff may move to another journey of the same contact: the person's own words, and notes.
MOVABLE_KINDS = (Kind.INBOUND, Kind.WEB_REQUEST, Kind.NOTE)
# Outbound status order: a status callback only ever moves a text forward.
STATUS_RANK: dict[str, int] = {
    Status.HELD_FOR_CONSENT: 0,
    Status.SCHEDULED: 0,
    Status.QUEUED: 0,
    Status.SENDING: 1,
    Status.UNCONFIRMED: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.UNDELIVERED: 3,
    Status.FAILED: 3,
    Status.CANCELLED: 3,
}


# The crisis detector's words (texting.risk): its categories and the levels clinicians screen for
# (C-SSRS and crisis-line guidance), as staff read them on an alert.
RISK_CATEGORIES: dict[str, str] = {
    "suicide": "Suicide",
    "self_harm": "Self-harm",
    "harm_others": "Harm to others",
    "abuse": "Abuse",
}
RISK_LEVELS: dict[str, str] = {
    "passive_wish": "Wish to be dead",
    "active_thoughts": "Thoughts of suicide",
    "plan_intent": "Plan, method or intent",
    "preparatory": "Preparing (pills saved, goodbyes)",
    "attempt": "Attempt made or disclosed",
    "self_harm": "Self-harm",
    "relapse": "Self-harm again",
    "threat": "Threat to hurt someone",
    "child": "Abuse of a child",
    "partner": "Partner abuse",
    "elder": "Abuse of an older adult",
    "abuse": "Abuse or violence",
    "unclear": "Reads like risk (no rule named the level)",
}
# Where the words an alert fired on came from.
ALERT_SOURCES: dict[str, str] = {"sms": "Text", "web": "Website form", "phone": "Phone intake"}


def check(column: str, words: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint that `column` holds one of the enum's words."""
    return f"{column} IN ({', '.join(repr(str(w)) for w in words)})"


def for_pages() -> dict[str, list[str]]:
    """The sets the browser's scripts need, so the front end never keeps its own copies."""
    return {
        "cancellable": list(CANCELLABLE),
        "unsettled": list(UNSETTLED),
        "movable": list(MOVABLE_KINDS),
        "failed": list(FAILED_STATUSES),
    }
