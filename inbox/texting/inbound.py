"""Incoming texts: one public entry, receive_message(), idempotent on Twilio's MessageSid.

Everything an inbound text causes (contact, inquiry journey, message, attachment jobs, consent events,
keyword reply, safety alert and after-hours safety reply, welcome automation) is written in one transaction, so a duplicate or a failure leaves
nothing half-stored, and pushes go out only after that transaction commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inbox.common.inputs import clean, is_clean
from inbox.common.phones import InvalidNumber, to_e164
from inbox.extensions import db
from inbox.models import Attachment, Contact, Journey, Message, Practice, PracticeNumber
from inbox.presenters import notification_json
from inbox.realtime import practice_room, push
from inbox.texting import consent, revocations, safety
from inbox.texting.automations import send_welcome
from inbox.texting.journeys import find_contact, open_journey, route_inbound, wake
from inbox.texting.risk import risk_category
from inbox.texting.templating import TemplateError, placeholder_values, render
from inbox.texting.thread import announce, new_message, touch_journey
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


class BadWebhook(ValueError):
    """The form is not a message Twilio would send: answered 400, nothing stored."""


class UnknownNumber(LookupError):
    """The `To` number belongs to no practice: answered 404, nothing stored."""


@dataclass(frozen=True)
class Received:
    """What the webhook answers: the stored message (or the earlier one) and an optional TwiML reply."""

    message_id: int
    duplicate: bool
    reply: str | None = None


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
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not SID.fullmatch(sid):
        raise BadWebhook("MessageSid missing or malformed")
    try:
        to, from_ = to_e164(form.get("To", "")), to_e164(form.get("From", ""))
    except InvalidNumber as exc:
        raise BadWebhook("To/From is not a phone number") from exc
    body = clean(form.get("Body", ""))  # a NUL must not cost the patient's text (PostgreSQL refuses it)
    if len(body) > MAX_BODY:
        raise BadWebhook("Body too long")
    try:
        num_media = int(form.get("NumMedia", "0") or "0")
    except ValueError as exc:
        raise BadWebhook("NumMedia is not a number") from exc
    if not 0 <= num_media <= MAX_MEDIA:
        raise BadWebhook("NumMedia out of range")
    media = []
    for i in range(num_media):
        url = form.get(f"MediaUrl{i}", "")
        usable = url.startswith(("https://", "http://")) and len(url) <= 500 and is_clean(url)
        # An unusable link loses that one attachment (shown as unavailable), never the text.
        media.append(Media(url if usable else None, clean(form.get(f"MediaContentType{i}", ""))[:100]))
    if not body.strip() and not media:
        raise BadWebhook("empty message")
    opt_out_type = clean(form.get("OptOutType", "")).strip()[:20] or None
    return InboundForm(sid, to, from_, body, media, opt_out_type)


def receive_message(form: Mapping[str, str]) -> Received:
    """Store one inbound text (or recognise a duplicate) and apply its keywords; commits."""
    fields = parse_form(form)
    # Duplicates race on the unique SID (and a new number on the unique contact): the database
    # constraint decides, and the loser sees the winner's row on its next try.
    for _attempt in range(3):
        target = _target(fields)
        if target is None:
            raise UnknownNumber("no practice has this number")
        practice, number_id, existing = target
        if existing is not None:
            return Received(existing, duplicate=True)
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


def _target(fields: InboundForm) -> tuple[Practice, int, int | None] | None:
    """In one statement: the practice behind the `To` number, the number's id, and an earlier message
    with this SID; None for a number no practice has.

    Read on every webhook rather than cached, so that a number moved between practices can never
    route a text to the wrong one, whichever process answers.
    """
    earlier = select(Message.id).where(Message.twilio_sid == fields.sid).scalar_subquery()
    row = db.session.execute(
        select(Practice, PracticeNumber.id, earlier)
        .join(PracticeNumber, PracticeNumber.practice_id == Practice.id)
        .where(PracticeNumber.e164 == fields.to)
    ).one_or_none()
    return None if row is None else tuple(row)


def _store(fields: InboundForm, practice: Practice, number_id: int) -> Received:
    """Write the message and everything it causes into the current transaction."""
    contact = find_contact(practice.id, fields.from_)
    journey = route_inbound(contact) if contact else None
    if contact is None:
        contact = Contact(practice_id=practice.id, phone=fields.from_)
        db.session.add(contact)
        db.session.flush()
    new_journey = journey is None
    if journey is None:
        # The welcome goes out after the message is stored, so it sorts after it in the thread.
        journey = _new_inquiry(contact)
    risk = risk_category(fields.body)  # one precompiled pass; the flag adds, it never holds the text
    flags: dict[str, bool | str] = (
        {"opt_out_language": True} if consent.reads_like_opt_out(fields.body) else {}
    )
    if risk:
        flags.update(risk=True, risk_category=risk)
    msg = new_message(
        journey,
        contact=contact,  # loaded already: the presenters below read it without a query
        direction=Direction.INBOUND,
        kind=Kind.INBOUND,
        body=fields.body,
        twilio_sid=fields.sid,
        status=Status.RECEIVED,
        number_id=number_id,
        flags=flags,
        # Given even when empty: the presenters below then read the list instead of querying for it.
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
    db.session.flush()  # one flush: the message and its attachment jobs
    wake(journey)  # a snoozed journey comes back at once when the contact texts (touch_journey tells)
    touch_journey(journey, msg)
    announce(msg, "message.new")
    push("notify", notification_json(practice, msg), practice_room(practice.id))
    reply = _apply_keyword(contact, journey, msg, fields)
    if msg.flags.get("opt_out_language") and contact.consent_state != ConsentState.OPTED_OUT:
        revocations.open_request(msg, contact)  # staff confirm it: a revocation in any reasonable words
    if risk and safety.raise_alert(contact, journey, msg, risk) and reply is None:
        text = practice.safety_reply_text or DEFAULT_SAFETY_REPLY
        reply = _reply(journey, text, DEFAULT_SAFETY_REPLY, flags={"safety_reply": True})
    if new_journey and consent.keyword(fields.body, fields.opt_out_type) != "opt_out":
        send_welcome(journey, by_contact=True)  # they just texted us: an opt-in request may answer at once
    return Received(msg.id, duplicate=False, reply=reply)


def _new_inquiry(contact: Contact) -> Journey:
    """An unknown number (or one with no open journey) starts an inquiry in Intake, welcome deferred."""
    return open_journey(contact, pathway="intake", source="sms", inquiry=True, welcome=False)


def _apply_keyword(contact: Contact, journey: Journey, msg: Message, fields: InboundForm) -> str | None:
    """STOP/START/YES/HELP: update the ledger and return the reply text, if we owe one."""
    word = consent.keyword(fields.body, fields.opt_out_type)
    if word is None:
        return None
    practice = contact.practice
    evidence = fields.body.strip().upper()[:40] or fields.opt_out_type
    handled_by_twilio = fields.opt_out_type is not None
    text = None
    if word == "opt_out":
        if contact.consent_state != ConsentState.OPTED_OUT:
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
    return _reply(journey, text, DEFAULT_HELP if word == "help" else text)


def _reply(journey: Journey, text: str, fallback: str, flags: dict | None = None) -> str:
    """Fill in a reply owed by the webhook (keyword or safety) and keep it in the thread; it goes as
    TwiML in the webhook's answer, so no consent hold or outbox queue can delay it."""
    practice, contact = journey.contact.practice, journey.contact
    try:
        reply = render(text, placeholder_values(practice, contact, None))
    except TemplateError:
        # A practice's broken wording must not cost us the inbound text: fall back to ours.
        log.warning("practice id=%s webhook reply has an unknown placeholder", practice.id)
        reply = render(fallback, placeholder_values(practice, contact, None))
    answer = new_message(
        journey,
        direction=Direction.OUTBOUND,
        kind=Kind.KEYWORD_REPLY,
        body=reply,
        status=Status.SENT,
        consent_decision=consent.decide(contact, "keyword_reply").reason,
        flags=flags or {},
    )
    db.session.flush()
    announce(answer, "message.new")
    return reply
