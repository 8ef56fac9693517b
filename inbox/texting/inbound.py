"""Incoming texts: one public entry, receive_message(), idempotent on Twilio's MessageSid.

Everything an inbound text must decide at once (contact, inquiry journey, message, attachment jobs,
consent events, keyword reply, safety alert and after-hours safety reply) is written in one transaction,
so a duplicate or a failure leaves nothing half-stored, and pushes go out only after that transaction
commits. A new inquiry's welcome (and the opt-in request it may need) is follow-up work: the message row
carries `follow_up`, and the worker does it within a second, exactly once (`follow_up_due`), so a burst of
new numbers does not hold up the webhook's answer or anyone's live push.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from inbox.common import audit
from inbox.common.inputs import clean, is_clean
from inbox.common.phones import InvalidNumber, is_short_code, twilio_e164
from inbox.extensions import db
from inbox.models import Attachment, Contact, Journey, Message, Practice, PracticeNumber
from inbox.presenters import notification_json
from inbox.texting import consent, revocations, safety
from inbox.texting.automations import send_welcome
from inbox.texting.journeys import open_journey, route_inbound, wake
from inbox.texting.risk import assess
from inbox.texting.templating import TemplateError, placeholder_values, render
from inbox.texting.thread import announce, insert_message, touch_journey
from inbox.texting.wording import (
    DEFAULT_HELP,
    DEFAULT_SAFETY_REPLY,
    START_CONFIRMATION,
)
from inbox.vocabulary import ConsentState, Direction, Kind, Status

log = logging.getLogger(__name__)
SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
MAX_BODY = 1600 * 4  # Twilio's concatenation limit is 1600 characters; allow for its oddities
MAX_MEDIA = 10
UNUSABLE_MEDIA_URL = "Twilio sent a media link that cannot be fetched."
WELCOME = "welcome"  # Message.follow_up: the new inquiry's welcome (and opt-in request) is owed
FOLLOW_UP_BATCH = 20  # per worker pass; each is its own transaction


class BadWebhook(ValueError):
    """The form is not a message Twilio would send: answered 400, nothing stored."""


class UnknownNumber(LookupError):
    """The `To` number belongs to no practice: answered 404, nothing stored."""


class NotRouted(ValueError):
    """A text from a channel or sender the inbox does not text with (WhatsApp, a short code): answered
    with an empty TwiML 200, counted by reason, nothing stored (docs/routing.md, "Texts not routed")."""

    def __init__(self, reason: str) -> None:
        """Keep the reason: a word of ours ("whatsapp", "short_code"), never anything from the form."""
        super().__init__(reason)
        self.reason = reason


# Twilio names a non-SMS channel by prefixing the address ("whatsapp:+1415...", "messenger:..."); the
# reasons named here are counted as such, any other channel as "other_channel".
KNOWN_CHANNELS = ("whatsapp", "messenger", "rcs")


@dataclass(frozen=True)
class Received:
    """What the webhook answers: the stored message (or the earlier one) and an optional TwiML reply."""

    message_id: int
    duplicate: bool
    reply: Reply | None = None


@dataclass(frozen=True)
class Reply:
    """A reply the webhook's TwiML carries: its words, and its row's uid for Twilio's status callback."""

    body: str
    uid: str


@dataclass(frozen=True)
class Media:
    """One MediaUrlN of the webhook: its URL, or None when the URL Twilio sent is unusable."""

    url: str | None
    declared_type: str


@dataclass(frozen=True)
class InboundForm:
    """The validated fields of Twilio's incoming-message webhook."""

    sid: str
    to: str
    from_: str
    body: str
    media: list[Media]
    opt_out_type: str | None


def parse_form(form: Mapping[str, str]) -> InboundForm:
    """Validate Twilio's fields strictly; any doubt is a BadWebhook (400), never a 500."""
    # Older requests name the message by SmsSid/SmsMessageSid only (the same value as MessageSid).
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or "").strip()
    if not SID.fullmatch(sid):
        raise BadWebhook("MessageSid missing or malformed")
    raw_to, raw_from = form.get("To", "").strip(), form.get("From", "").strip()
    _refuse_unrouted(raw_to, raw_from)
    try:
        to, from_ = twilio_e164(raw_to), twilio_e164(raw_from)
    except InvalidNumber as exc:
        raise BadWebhook("To/From is not a phone number") from exc
    body = clean(form.get("Body", ""))  # a NUL must not cost the patient's text (PostgreSQL refuses it)
    if len(body) > MAX_BODY:
        raise BadWebhook("Body too long")
    media = []
    for i in range(_media_count(form)):
        url = form.get(f"MediaUrl{i}", "")
        usable = url.startswith(("https://", "http://")) and len(url) <= 500 and is_clean(url)
        # An unusable link loses that one attachment (shown as unavailable), never the text.
        media.append(Media(url if usable else None, clean(form.get(f"MediaContentType{i}", ""))[:100]))
    if not body.strip() and not media:
        raise BadWebhook("empty message")
    opt_out_type = clean(form.get("OptOutType", "")).strip()[:20] or None
    return InboundForm(sid, to, from_, body, media, opt_out_type)


def _media_count(form: Mapping[str, str]) -> int:
    """How many attachments the text has: NumMedia, or more if more MediaUrlN came (SPEC: every MediaUrlN
    is an attachment; one missing from the count would be dropped without a trace)."""
    try:
        declared = int(form.get("NumMedia", "0") or "0")
    except ValueError as exc:
        raise BadWebhook("NumMedia is not a number") from exc
    if not 0 <= declared <= MAX_MEDIA:
        raise BadWebhook("NumMedia out of range")
    sent = next(i for i in range(MAX_MEDIA + 2) if f"MediaUrl{i}" not in form)
    if sent > MAX_MEDIA:
        raise BadWebhook("too many MediaUrl fields")
    return max(declared, sent)


def _refuse_unrouted(raw_to: str, raw_from: str) -> None:
    """Raise NotRouted for a text the inbox cannot answer in kind: another channel than SMS/MMS, or a
    short code sender (contacts are phone numbers, and a practice's number cannot text a short code)."""
    for raw in (raw_to, raw_from):
        channel, colon, _rest = raw.partition(":")
        if colon and channel.isalpha():
            raise NotRouted(channel.lower() if channel.lower() in KNOWN_CHANNELS else "other_channel")
    if is_short_code(raw_from):
        raise NotRouted("short_code")


def _count_not_routed(reason: str, raw_to: str) -> None:
    """Count a text not routed, for the practice whose number it reached when that is known (its admins
    see it in the audit trail); the reason only, never the sender, body or number. Commits."""
    number = raw_to.partition(":")[2] if ":" in raw_to else raw_to
    try:
        practice_id = db.session.scalar(
            select(PracticeNumber.practice_id).where(PracticeNumber.e164 == twilio_e164(number))
        )
    except InvalidNumber:
        practice_id = None
    audit.sampled("webhook.not_routed", bucket=reason, practice_id=practice_id, reason=reason)
    db.session.commit()
    log.info("inbound webhook not routed reason=%s practice=%s", reason, practice_id)


def receive_message(form: Mapping[str, str]) -> Received:
    """Store one inbound text (or recognise a duplicate) and apply its keywords; commits."""
    try:
        fields = parse_form(form)
    except NotRouted as exc:
        _count_not_routed(exc.reason, form.get("To", "").strip())
        raise
    # Duplicates race on the unique SID (and a new number on the unique contact): the database
    # constraint decides, and the loser sees the winner's row on its next try.
    for _attempt in range(3):
        target = _target(fields)
        if target is None:
            raise UnknownNumber("no practice has this number")
        practice, number_id, existing, unanswered = target
        if existing is not None:
            return Received(existing, duplicate=True, reply=_owed_again(unanswered))
        try:
            received = _store(fields, practice, number_id)
            db.session.commit()
            log.info(
                "inbound message id=%s sid=%s media=%d", received.message_id, fields.sid, len(fields.media)
            )
            return received
        except IntegrityError:
            db.session.rollback()
    raise RuntimeError("could not store inbound message after 3 attempts")


def _target(fields: InboundForm) -> tuple[Practice, int, int | None, int | None] | None:
    """In one statement: the practice behind the `To` number, the number's id, an earlier message with
    this SID and the reply it owes that Twilio has not confirmed (`_owed_again`); None for a number no
    practice has.

    Read on every webhook rather than cached, so that a number moved between practices can never
    route a text to the wrong one, whichever process answers.
    """
    row = db.session.execute(
        _TARGET, {"sid": fields.sid, "to": fields.to, "reply_uid": reply_uid(fields.sid)}
    ).one_or_none()
    return None if row is None else tuple(row)


# Built once with bound parameters, as journeys' routing reads are: building it cost more than running it.
_TARGET = (
    select(
        Practice,
        PracticeNumber.id,
        select(Message.id).where(Message.twilio_sid == bindparam("sid")).scalar_subquery(),
        select(Message.id)
        .where(Message.uid == bindparam("reply_uid"), Message.twilio_sid.is_(None))
        .scalar_subquery(),
    )
    .join(PracticeNumber, PracticeNumber.practice_id == Practice.id)
    .where(PracticeNumber.e164 == bindparam("to"))
)


def _store(fields: InboundForm, practice: Practice, number_id: int) -> Received:
    """Write the message and everything it causes into the current transaction."""
    contact, journey = route_inbound(practice.id, fields.from_)
    if contact is None:
        contact = Contact(practice_id=practice.id, phone=fields.from_)
        db.session.add(contact)
        db.session.flush()
    elif consent.keyword(fields.body, fields.opt_out_type) in ("opt_out", "opt_in"):
        consent.lock(contact)  # a consent change locks the contact before any other row
    new_journey = journey is None
    if journey is None:
        # The welcome goes out after the message is stored, so it sorts after it in the thread.
        journey = _new_inquiry(contact)
    finding = assess(fields.body)  # precompiled passes; the flag adds, it never holds the text
    flags: dict[str, bool | str] = (
        {"opt_out_language": True} if consent.reads_like_opt_out(fields.body) else {}
    )
    if finding:
        flags.update(safety.risk_flags(finding))
    # They just texted us: the welcome (whose opt-in request may answer at once) follows in the worker.
    welcome_owed = new_journey and consent.keyword(fields.body, fields.opt_out_type) != "opt_out"
    msg = insert_message(
        journey,
        direction=Direction.INBOUND,
        kind=Kind.INBOUND,
        body=fields.body,
        twilio_sid=fields.sid,
        status=Status.RECEIVED,
        number_id=number_id,
        flags=flags,
        follow_up=WELCOME if welcome_owed else None,
        attachments=[
            Attachment(
                practice_id=practice.id,
                journey_id=journey.id,
                position=position,
                source_url=media.url,
                declared_type=media.declared_type,
                **({} if media.url else {"status": "unavailable", "error": UNUSABLE_MEDIA_URL}),
            )
            for position, media in enumerate(fields.media)
        ],
    )
    wake(journey)  # a snoozed journey comes back at once when the contact texts (touch_journey tells)
    # One push per room: the thread's new message, then the inbox row with the popup's fields (a tab
    # that heard the popup has heard the message too).
    announce(msg, "message.new")
    touch_journey(journey, msg, notify=notification_json(practice, msg))
    reply = _apply_keyword(contact, journey, msg, fields)
    if msg.flags.get("opt_out_language") and contact.consent_state != ConsentState.OPTED_OUT:
        revocations.open_request(msg, contact)  # staff confirm it: a revocation in any reasonable words
    if finding:
        text = practice.safety_reply_text or DEFAULT_SAFETY_REPLY
        alert = safety.raise_alert(
            contact,
            journey,
            msg,
            finding,
            # A keyword's reply (STOP, HELP) already answers this text: the safety reply waits for the next.
            reply=None
            if reply is not None
            else lambda: _reply(
                journey, fields.sid, text, DEFAULT_SAFETY_REPLY, flags={"safety_reply": True}
            ),
        )
        reply = alert.reply or reply
    return Received(msg.id, duplicate=False, reply=Reply(reply.body, reply.uid) if reply else None)


# The worker's statements, built once (as the webhook's are).
_FOLLOW_UPS_DUE = (
    select(Message.id).where(Message.follow_up.is_not(None)).order_by(Message.id).limit(bindparam("limit"))
)
_CLAIM_FOLLOW_UP = (
    update(Message)
    .where(Message.id == bindparam("message_id"), Message.follow_up == WELCOME)
    .values(follow_up=None)
)
# The text's journey with its contact and practice, which the welcome reads: one statement, not three.
_FOLLOW_UP_JOURNEY = (
    select(Journey)
    .join(Message, Message.journey_id == Journey.id)
    .where(Message.id == bindparam("id"))
    .options(joinedload(Journey.contact).joinedload(Contact.practice), joinedload(Journey.assignee))
)


def follow_up_due(limit: int = FOLLOW_UP_BATCH) -> int:
    """Do the follow-up work inbound texts left (a new inquiry's welcome), each exactly once; commits
    each. Returns how many were done.

    The compare-and-set that clears a row's `follow_up` is in the same transaction as the welcome it
    composes: a crash before the commit leaves the work due (nothing was sent), and a second worker
    racing for the same row updates nothing and moves on (nothing is sent twice)."""
    due = db.session.scalars(_FOLLOW_UPS_DUE, {"limit": limit}).all()
    done = 0
    for message_id in due:
        claim = db.session.execute(
            _CLAIM_FOLLOW_UP, {"message_id": message_id}, execution_options={"synchronize_session": False}
        )
        if claim.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
            db.session.rollback()  # another worker took it
            continue
        journey = db.session.scalar(_FOLLOW_UP_JOURNEY, {"id": message_id})
        if journey is not None:
            send_welcome(journey, by_contact=True)  # the consent decision still decides, as of now
        db.session.commit()
        done += 1
    return done


def _new_inquiry(contact: Contact) -> Journey:
    """An unknown number (or one with no open journey) starts an inquiry in Intake, welcome deferred."""
    # Not announced by itself: the text's own journey.updated, a moment later, carries the new row.
    return open_journey(contact, pathway="intake", source="sms", inquiry=True, welcome=False, announce=False)


def _apply_keyword(contact: Contact, journey: Journey, msg: Message, fields: InboundForm) -> Message | None:
    """STOP/START/YES/HELP: update the ledger and return the reply text, if we owe one."""
    word = consent.keyword(fields.body, fields.opt_out_type)
    if word is None:
        return None
    practice = contact.practice
    evidence = fields.body.strip().upper()[:40] or fields.opt_out_type
    handled_by_twilio = fields.opt_out_type is not None
    text = None
    if word == "opt_out":
        if contact.consent_state == ConsentState.OPTED_OUT:
            return None  # an opt-out gets one confirmation, which they had (a STOP's, or staff's)
        consent.record(
            contact, ConsentState.OPTED_OUT, "sms_keyword", evidence=evidence, message_sid=fields.sid
        )
        if not handled_by_twilio:
            text = revocations.stop_confirmation_text(practice)
    elif word == "opt_in":
        if contact.consent_state != ConsentState.OPTED_IN:
            consent.record(
                contact, ConsentState.OPTED_IN, "sms_keyword", evidence=evidence, message_sid=fields.sid
            )
        if not handled_by_twilio:
            text = START_CONFIRMATION
    elif not handled_by_twilio:
        text = practice.help_text or DEFAULT_HELP
    if text is None:
        return None
    return _reply(journey, fields.sid, text, DEFAULT_HELP if word == "help" else text)


def reply_uid(sid: str) -> str:
    """The uid of the reply a webhook owes for the text `sid`: derived, so a retry of that webhook finds
    it without any other link between the two rows (at most one reply answers a text)."""
    return hashlib.sha256(f"webhook-reply:{sid}".encode()).hexdigest()[:32]


def _owed_again(reply_id: int | None) -> Reply | None:
    """The reply to give again when Twilio repeats a webhook we already stored.

    Twilio repeats a webhook only when our answer did not reach it (a timeout, a dropped connection),
    and the reply (a STOP confirmation, the safety reply) travelled in that answer: answered empty, the
    retry would lose it. The same reply goes again, with the same uid, unless Twilio's callback has
    already brought its SID: then the first answer did arrive and the text went. `reply_id` is that
    reply while its SID is unknown (read with the duplicate check, so a plain repeat costs nothing more).
    """
    reply = db.session.get(Message, reply_id) if reply_id is not None else None
    return Reply(reply.body, reply.uid) if reply is not None and reply.body else None


def _reply(journey: Journey, sid: str, text: str, fallback: str, flags: dict | None = None) -> Message:
    """Fill in a reply owed by the webhook for the text `sid` (keyword or safety) and keep it in the
    thread; it goes as TwiML in the webhook's answer, so no consent hold or outbox queue can delay it,
    and Twilio's callback for it (named by the row's uid) brings its SID and delivery status like any
    text's."""
    practice, contact = journey.contact.practice, journey.contact
    try:
        reply = render(text, placeholder_values(practice, contact, None))
    except TemplateError:
        # A practice's broken wording must not cost us the inbound text: fall back to ours.
        log.warning("practice id=%s webhook reply has an unknown placeholder", practice.id)
        reply = render(fallback, placeholder_values(practice, contact, None))
    answer = insert_message(
        journey,
        direction=Direction.OUTBOUND,
        kind=Kind.KEYWORD_REPLY,
        body=reply,
        status=Status.SENT,
        consent_decision=consent.decide(contact, "keyword_reply").reason,
        flags=flags or {},
        uid=reply_uid(sid),
    )
    announce(answer, "message.new")
    return answer
