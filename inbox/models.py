"""The data model: practices, staff, contacts, journeys, messages and their append-only ledgers."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from inbox.crypto import EncryptedField, IndexedPhone
from inbox.extensions import db

if TYPE_CHECKING:
    # db.Model is built at runtime from Base (model_class=Base); the type checker sees it as Base.
    from inbox.extensions import Base as Model
else:
    Model = db.Model
from inbox.vocabulary import (
    LABEL_TEXT,
    PATHWAY_LABELS,
    AttachmentLabel,
    AttachmentStatus,
    ConsentState,
    Direction,
    Kind,
    LoginStep,
    OptOutDecision,
    Pathway,
    Status,
    check,
)

PATHWAYS = PATHWAY_LABELS
ROLES = ("admin", "staff")
ATTACHMENT_LABELS = LABEL_TEXT


def utcnow() -> datetime:
    """Timezone-aware UTC now; every timestamp in the database is UTC."""
    return datetime.now(UTC)


def new_uid() -> str:
    """An opaque 128-bit id: names media blobs and binds ciphertexts to their row."""
    return secrets.token_hex(16)


class SealedRow:
    """A row with sealed attributes (`EncryptedField`): its uid (their associated data) and practice_id (a
    digest's key) exist before any value is sealed, whatever order the keyword arguments come in.

    SEALED names the sealed attributes and the value each gets when the caller gives none (None: unset).
    """

    SEALED: ClassVar[dict[str, str | None]] = {}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("uid", new_uid())
        values = {name: kwargs.pop(name, default) for name, default in self.SEALED.items()}
        super().__init__(**kwargs)
        for name, value in values.items():
            if value is not None:
                setattr(self, name, value)


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime that always comes back timezone-aware UTC (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store as UTC (SQLite keeps no offset, so an aware local time must be converted first)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Practice(Model):
    """A tenant: one therapy practice, its settings, numbers and staff."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(254))
    public_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    require_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    opt_in_text: Mapped[str | None] = mapped_column(Text)
    help_text: Mapped[str | None] = mapped_column(Text)
    send_stop_confirmation: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_start: Mapped[int] = mapped_column(Integer, default=21 * 60)  # minutes after midnight
    quiet_end: Mapped[int] = mapped_column(Integer, default=8 * 60)
    welcome_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    ephi_in_popups: Mapped[bool] = mapped_column(Boolean, default=True)
    delete_media_at_twilio: Mapped[bool] = mapped_column(Boolean, default=True)
    web_consent_sentence: Mapped[str | None] = mapped_column(Text)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # On: everyone (admins too) enrols a second factor at their next login before anything else.
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Office hours, when staff read texts: ISO weekdays ("12345" is Mon-Fri) and minutes after midnight,
    # in the practice's time zone; holidays (ISO dates) are out of hours all day.
    office_days: Mapped[str] = mapped_column(String(7), default="12345", server_default="12345")
    office_start: Mapped[int] = mapped_column(Integer, default=8 * 60, server_default="480")
    office_end: Mapped[int] = mapped_column(Integer, default=18 * 60, server_default="1080")
    holidays: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    safety_reply_text: Mapped[str | None] = mapped_column(Text)  # None: wording.DEFAULT_SAFETY_REPLY
    # Minutes an unacknowledged safety alert waits before each escalation step (on-call first, second,
    # then every admin).
    escalation_minutes: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    numbers: Mapped[list[PracticeNumber]] = relationship(back_populates="practice")


class PracticeNumber(Model):
    """A Twilio number of a practice; `next_send_at` paces outbound sends from it."""

    __tablename__ = "practice_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(40))
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    practice: Mapped[Practice] = relationship(back_populates="numbers")


class User(UserMixin, Model):
    """A staff member of one practice, `admin` or `staff`."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(10), default="staff")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin hands out a one-time password; cleared when the person picks their own.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    practice: Mapped[Practice] = relationship()

    @property
    def is_active(self) -> bool:
        """Deactivated staff cannot log in (Flask-Login asks this)."""
        return self.active

    @property
    def is_admin(self) -> bool:
        """Admins manage settings, staff and redaction."""
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        """Name shown on messages the user sent."""
        return f"{self.first_name} {self.last_name}".strip() or self.email


class StaffSession(Model):
    """A server-side login session, so that logout, idle logoff and deactivation really end it."""

    __tablename__ = "staff_sessions"
    __table_args__ = (CheckConstraint(check("pending_step", LoginStep), name="pending_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    # The login step still owed after the password (`vocabulary.LoginStep`); None is a full login.
    # Only a full login loads its user: a pending one is anonymous everywhere but its own step's page.
    pending_step: Mapped[str | None] = mapped_column(String(12))

    user: Mapped[User] = relationship()


class TwoFactor(SealedRow, Model):
    """A staff member's TOTP enrolment: the secret sealed to this row, the last time step used.

    `confirmed_at` is None while the person is setting it up (the secret is shown, no code proved yet);
    only a confirmed enrolment asks for a code at login.
    """

    __tablename__ = "two_factors"
    SEALED = {"secret": None}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    secret_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # The newest 30 s step a code was accepted for: a code of that step or earlier is a replay.
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    secret = EncryptedField("secret_ct", "two_factor.secret")


class RecoveryCode(Model):
    """A one-time recovery code of an enrolment, kept only as a hash; `used_at` spends it."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    two_factor_id: Mapped[int] = mapped_column(ForeignKey("two_factors.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Contact(SealedRow, Model):
    """A person texting the practice; the number is unique within the practice.

    Every identifier is sealed like a message body; the number is found through its blind-index digest.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("practice_id", "phone_index", name="uq_contacts_practice_phone_index"),
        CheckConstraint(check("consent_state", ConsentState), name="consent_state"),
    )
    SEALED = {
        "phone": None,
        "first_name": None,
        "last_name": None,
        "email": None,
        "guardian_name": None,
        "guardian_phone": None,
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    phone_ct: Mapped[bytes] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes] = mapped_column(LargeBinary(32))  # crypto.phone_digest of the E.164 number
    first_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    guardian_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    guardian_phone_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set by staff when the number's area is not where the person lives (quiet hours follow it).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # A language code staff pick (texting/contacts.LANGUAGES): what to answer in; None is not known.
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    # Cached from the consent ledger by consent.record(); the ledger is the truth.
    consent_state: Mapped[str] = mapped_column(String(12), default="unknown")
    opt_in_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    practice: Mapped[Practice] = relationship()

    phone = IndexedPhone("phone_ct", "contact.phone", "phone_index")  # E.164
    first_name = EncryptedField("first_name_ct", "contact.first_name", empty="")
    last_name = EncryptedField("last_name_ct", "contact.last_name", empty="")
    email = EncryptedField("email_ct", "contact.email")
    guardian_name = EncryptedField("guardian_name_ct", "contact.guardian_name")
    guardian_phone = EncryptedField("guardian_phone_ct", "contact.guardian_phone")

    @property
    def full_name(self) -> str:
        """First and last name, or the number when we know no name."""
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def label(self) -> str:
        """What staff see for this contact."""
        return self.full_name or self.phone

    @property
    def consent_colour(self) -> str:
        """The consent badge's colour: red opted out, green opted in (or opt-in not required), else amber.
        The one rule: consent.badge and the inbox rows' chips both read it."""
        if self.consent_state == ConsentState.OPTED_OUT:
            return "red"
        if self.consent_state == ConsentState.OPTED_IN or not self.practice.require_opt_in:
            return "green"
        return "amber"

    @property
    def guardian_reads_texts(self) -> bool:
        """The number we text is the guardian's (a minor whose texts go to a parent's phone)."""
        return bool(self.guardian_phone) and self.guardian_phone == self.phone


class Journey(SealedRow, Model):
    """A contact's case in a pathway; the thread of messages hangs off it. Its stage is staff's words: sealed."""

    __tablename__ = "journeys"
    __table_args__ = (
        Index("ix_journeys_practice_activity", "practice_id", "last_activity_at"),
        CheckConstraint(check("pathway", Pathway), name="pathway"),
    )

    SEALED = {"stage": "New inquiry"}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    pathway: Mapped[str] = mapped_column(String(12), default="intake")
    stage_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    is_inquiry: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(12), default="manual")  # sms, web, phone, manual
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paperwork_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_id: Mapped[int | None] = mapped_column(Integer)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Snoozed: out of the default inbox views until then, or until the contact texts (issue 18).
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contact: Mapped[Contact] = relationship()
    assignee: Mapped[User | None] = relationship()

    stage = EncryptedField("stage_ct", "journey.stage", empty="")

    @property
    def pathway_label(self) -> str:
        """Pathway as staff call it."""
        return PATHWAYS.get(self.pathway, self.pathway)


class Message(SealedRow, Model):
    """One SMS/MMS in a thread; outbound rows are also the durable send queue (the outbox)."""

    __tablename__ = "messages"
    SEALED = {"body": None}
    __table_args__ = (
        Index("ix_messages_journey_id", "journey_id", "id"),
        Index("ix_messages_outbox", "status", "not_before"),
        Index("ix_messages_contact_status", "contact_id", "status"),
        Index("ix_messages_retention", "practice_id", "purged_at", "created_at"),
        Index("ix_messages_follow_up", "follow_up"),  # almost always NULL: the worker's small queue
        CheckConstraint(check("direction", Direction), name="direction"),
        CheckConstraint(check("kind", Kind), name="kind"),
        CheckConstraint(check("status", Status), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    direction: Mapped[str] = mapped_column(String(8))  # inbound, outbound
    kind: Mapped[str] = mapped_column(String(16), default="staff")
    body_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    twilio_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_reason: Mapped[str | None] = mapped_column(String(300))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    number_id: Mapped[int | None] = mapped_column(ForeignKey("practice_numbers.id"))
    flags: Mapped[dict] = mapped_column(JSON, default=dict)  # e.g. {"opt_out_language": true}
    consent_decision: Mapped[str | None] = mapped_column(String(300))
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redacted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The retention policy's tombstone: body and media destroyed because the message outlived it.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Twilio confirmed its copy is gone; a redacted or purged message with a SID retries until then.
    twilio_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Work an inbound text left to the worker ("welcome": a new inquiry's welcome and opt-in request),
    # cleared by the one pass that does it (inbound.follow_up_due), in that work's own transaction.
    follow_up: Mapped[str | None] = mapped_column(String(16))

    body = EncryptedField("body_ct", "message.body")

    journey: Mapped[Journey] = relationship()
    contact: Mapped[Contact] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    redacted_by: Mapped[User | None] = relationship(foreign_keys=[redacted_by_id])
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.position"
    )


class Attachment(Model):
    """A photo or PDF of an MMS; its media-fetch job state lives on the row."""

    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_jobs", "status", "next_attempt_at"),
        CheckConstraint(check("status", AttachmentStatus), name="status"),
        CheckConstraint("label IS NULL OR " + check("label", AttachmentLabel), name="label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source_url: Mapped[str | None] = mapped_column(String(500))  # cleared once deleted at Twilio
    declared_type: Mapped[str | None] = mapped_column(String(100))
    # pending -> ready | unavailable (retries exhausted or rejected); redacted
    status: Mapped[str] = mapped_column(String(12), default="pending")
    content_type: Mapped[str | None] = mapped_column(String(50))
    size: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    has_thumbnail: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    label: Mapped[str | None] = mapped_column(String(20))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="attachments")
    reviewed_by: Mapped[User | None] = relationship()


class ConsentEvent(SealedRow, Model):
    """Append-only consent ledger: every change with its source, evidence (sealed) and actor."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_contact", "contact_id", "id"),
        CheckConstraint(check("state", ConsentState), name="state"),
    )

    SEALED = {"evidence": None}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    state: Mapped[str] = mapped_column(String(12))
    # web_form, phone_attestation, sms_keyword, sms_language, carrier_error, staff_manual, opt_in_request
    source: Mapped[str] = mapped_column(String(20))
    evidence_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    message_sid: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()

    evidence = EncryptedField("evidence_ct", "consent.evidence")


class OptOutRequest(SealedRow, Model):
    """A text that reads like an opt-out ("please stop texting me"), until staff confirm or dismiss it:
    a revocation in any reasonable words must be honoured within 10 business days (FCC, 2024)."""

    __tablename__ = "opt_out_requests"
    __table_args__ = (
        Index("ix_opt_out_requests_open", "practice_id", "decided_at", "id"),
        CheckConstraint("decision IS NULL OR " + check("decision", OptOutDecision), name="decision"),
    )

    SEALED = {"reason": None}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str | None] = mapped_column(String(12))
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    message: Mapped[Message] = relationship()
    contact: Mapped[Contact] = relationship()
    decided_by: Mapped[User | None] = relationship()

    reason = EncryptedField("reason_ct", "opt_out.reason")  # why staff dismissed it: their words, sealed


class SafetyAlert(Model):
    """Risk language in an inbound text: open until a staff member acknowledges it. No ePHI here:
    the acknowledgement's note is the activity line `ack_line_id` of the thread, sealed like any
    message body (so retention, redaction and key rotation cover it)."""

    __tablename__ = "safety_alerts"
    __table_args__ = (
        Index("ix_safety_alerts_open", "practice_id", "acknowledged_at"),
        Index("ix_safety_alerts_replies", "contact_id", "replied_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    category: Mapped[str] = mapped_column(String(20))  # texting.risk: suicide, self_harm, ...
    # When the after-hours safety reply went with this alert (None: in office hours, opted out, or
    # one went to this contact in the last 12 hours).
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ack_line_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # Why it fired (texting.risk.Assessment): the level screened for, the rule's fixed cue (never the
    # person's words), and whether the risk is the writer's own or someone else's they report.
    level: Mapped[str | None] = mapped_column(String(24))
    cue: Mapped[str | None] = mapped_column(String(80))
    about: Mapped[str | None] = mapped_column(String(8))
    # Where the person's words came from: a text, the public request form, or staff's phone intake.
    source: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    # The after-hours safety reply as a tracked message of the thread (its SID and delivery status).
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # The escalation chain, a durable worker job: steps taken so far and when the next is due (None:
    # nothing more to do, because it was acknowledged or every step was taken).
    escalation_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    journey: Mapped[Journey] = relationship()
    message: Mapped[Message] = relationship(foreign_keys=[message_id])
    reply: Mapped[Message | None] = relationship(foreign_keys=[reply_id])
    acknowledged_by: Mapped[User | None] = relationship()
    escalations: Mapped[list[SafetyEscalation]] = relationship(
        back_populates="alert", order_by="SafetyEscalation.id"
    )


class SafetyEscalation(Model):
    """One text of an alert's escalation chain to a staff member's own phone: who, when, how it went.
    The text carries no ePHI ("A safety alert at <practice> is waiting. Open Intake Inbox.")."""

    __tablename__ = "safety_escalations"
    __table_args__ = (
        UniqueConstraint("alert_id", "step", "user_id", name="uq_safety_escalations_step_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("safety_alerts.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # 1 first on call, 2 second on call, 3 every admin
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # sending (claimed, not yet answered), sent, delivered, failed, ambiguous (a crash mid-send: not
    # resent blindly), skipped (no phone on file)
    status: Mapped[str] = mapped_column(String(12), default="sending")
    twilio_sid: Mapped[str | None] = mapped_column(String(40), index=True)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    alert: Mapped[SafetyAlert] = relationship(back_populates="escalations")
    user: Mapped[User] = relationship()


class OnCallSlot(Model):
    """Who is on call for safety alerts: per shift (office hours, after hours) a first and a second."""

    __tablename__ = "on_call_slots"
    __table_args__ = (UniqueConstraint("practice_id", "shift", "rank", name="uq_on_call_slots_shift_rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    shift: Mapped[str] = mapped_column(String(12))  # office, after_hours
    rank: Mapped[int] = mapped_column(Integer)  # 1 first, 2 second
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship()


class StaffPhone(SealedRow, Model):
    """A staff member's own mobile number, for escalation texts: sealed like a contact's number."""

    __tablename__ = "staff_phones"
    SEALED = {"phone": None}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    phone_ct: Mapped[bytes] = mapped_column(LargeBinary)

    phone = EncryptedField("phone_ct", "staff.phone")  # E.164


class Template(Model):
    """Message text with placeholders, sent by staff (`manual`) or by an automation (`auto`)."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(8), default="manual")
    # For auto templates: welcome, appointment, paperwork, followup.
    trigger: Mapped[str | None] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    practice: Mapped[Practice] = relationship()


class ReadMarker(Model):
    """The last message of a journey that a staff member has seen (unread badges)."""

    __tablename__ = "read_markers"
    __table_args__ = (UniqueConstraint("user_id", "journey_id", name="uq_read_markers_user_journey"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    last_read_message_id: Mapped[int] = mapped_column(Integer, default=0)


# --- the team's workspace: @mentions in internal notes ------------------------------------------------


class Mention(Model):
    """A staff member named in an internal note: their Mentions list and its unread count. No ePHI here:
    the note's words are the message's sealed body. Its journey is the note's (a note can be moved)."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id", name="uq_mentions_message_user"),
        Index("ix_mentions_user_unread", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship()
    by: Mapped[User] = relationship(foreign_keys=[by_id])


class SearchTerm(Model):
    """One keyed digest of a word, a name prefix or a number spelling of a message or a contact, so that
    search finds them with nothing readable stored (texting/search.py writes and reads these)."""

    __tablename__ = "search_terms"
    __table_args__ = (
        Index("ix_search_terms_lookup", "practice_id", "digest", "message_id"),
        CheckConstraint("(message_id IS NULL) <> (contact_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    digest: Mapped[bytes] = mapped_column(LargeBinary(16))
    # A row that is deleted takes its terms with it.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)


class AuditEvent(Model):
    """Append-only: who did what to which record, when and from where. Never holds ePHI."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_practice_time", "practice_id", "created_at"),
        Index("ix_audit_events_action_time", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str | None] = mapped_column(String(20))
    target_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class WorkerHeartbeat(Model):
    """When each background worker last ran a loop (for /healthz)."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThrottleCounter(Model):
    """A counter that requests take atomically before doing the work it limits (inbox/throttle.py):
    login attempts per address, account and known device, and refusals tallied per source and minute."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A delayed counter's next attempt may start only from this moment (None: right away).
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# --- Web Push: alerts that reach a staff member's browser with the tab closed (inbox/notify) ----------


class PushSubscription(Model):
    """One browser of one staff member (a service worker's push subscription): where the push service
    takes a message for it and the keys it is encrypted to. Not ePHI; the endpoint is a capability URL
    (whoever knows it can address that browser), so it is never logged nor audited beyond its host."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    # SHA-256 of the endpoint: one row per browser, whatever the endpoint's length (an index on Text
    # is not portable).
    endpoint_digest: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))  # the browser's ECDH public key, base64url
    auth: Mapped[str] = mapped_column(String(40))  # its 16-byte auth secret, base64url
    device: Mapped[str] = mapped_column(String(60), default="")  # "Chrome on Windows": browser and OS only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Deliveries that failed for good since the last success (the push service kept refusing them).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PushNotice(Model):
    """Something to push (a safety alert to every staff member of the practice, or a mention to one
    person), written in the transaction that raised it; the worker fans it out to the subscribed
    browsers (`fanned_out_at`). Holds ids only: the payload says no more than "open Intake Inbox"."""

    __tablename__ = "push_notices"
    __table_args__ = (Index("ix_push_notices_pending", "fanned_out_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    kind: Mapped[str] = mapped_column(String(12))  # safety, mention
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: every active staff member
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    journey: Mapped[Journey] = relationship()


class PushDelivery(Model):
    """One notice to one browser: the worker's durable queue (pending → sending under a lease → sent,
    or failed after its retries). Goes with its subscription."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "subscription_id", name="uq_push_deliveries_notice_subscription"),
        Index("ix_push_deliveries_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("push_notices.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(80))  # "HTTP 503", "timeout": never the response body
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    notice: Mapped[PushNotice] = relationship()
    subscription: Mapped[PushSubscription] = relationship()
