"""The JSON API the pages use (docs/API.md). Thin: the workflows live in their own modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.sansio.response import Response as SansIOResponse

from inbox.common import audit
from inbox.common.access import attachment_or_404, contact_or_404, journey_or_404, message_or_404
from inbox.common.inputs import BadInput, future_moment, json_object, parse_id, query_int
from inbox.common.phones import is_time_zone
from inbox.extensions import db
from inbox.gateway import gateway_for
from inbox.models import (
    ATTACHMENT_LABELS,
    PATHWAYS,
    Attachment,
    ConsentEvent,
    Journey,
    Template,
    User,
    utcnow,
)
from inbox.presenters import (
    attachment_json,
    consent_event_json,
    contact_json,
    iso,
    journey_json,
    message_json,
    preview_json,
    search_hit_json,
    staff_json,
    template_json,
)
from inbox.records.redaction import redact
from inbox.texting import consent, journeys, search, wording
from inbox.texting.journeys import mark_read, open_journey
from inbox.texting.outbox import AskedRecently, Blocked, cancel, compose, preview, request_opt_in
from inbox.texting.queries import inbox_counts, inbox_page, thread
from inbox.texting.templating import TemplateError, count_segments
from inbox.texting.thread import announce, log_activity
from inbox.vocabulary import AttachmentStatus, ConsentState, Direction, Kind
from inbox.web.auth import admin_required

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
@login_required
def require_login() -> None:
    """Every API call needs a live staff session."""


def _error(status: int, message: str, **extra: Any) -> Response:
    """A JSON error with a reason a person can read (a Response, so `abort()` can raise it too)."""
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


@bp.get("/journeys")
def list_journeys() -> ResponseReturnValue:
    """The practice's journeys, most recent activity first."""
    pathway, state = _list_filter()
    views = {view: request.args.get(view) == "1" for view in INBOX_VIEWS}
    limit = min(query_int("limit", 50) or 50, 200)
    journeys = inbox_page(current_user, pathway=pathway, state=state, limit=limit, **views)
    audit.record(
        "inbox.list", pathway=pathway, count=len(journeys), **{k: True for k, on in views.items() if on}
    )
    db.session.commit()
    return jsonify(journeys=journeys)


# --- the workspace's filter tabs (issue 18) --------------------------------------------------------
INBOX_STATES = ("open", "closed", "all")
INBOX_VIEWS = ("waiting", "mine", "unassigned", "snoozed")


def _list_filter() -> tuple[str | None, str]:
    """The pathway and open/closed filter of a list request; anything else is a readable 400."""
    pathway = request.args.get("pathway") or None
    if pathway and pathway not in PATHWAYS:
        abort(_error(400, "unknown pathway"))
    state = request.args.get("state", "open")
    if state not in INBOX_STATES:
        abort(_error(400, "state must be open, closed or all"))
    return pathway, state


@bp.get("/journeys/counts")
def count_journeys() -> ResponseReturnValue:
    """How many journeys each filter tab (all, waiting on us, mine, unassigned) holds (docs/API.md)."""
    pathway, state = _list_filter()
    return jsonify(counts=inbox_counts(current_user, pathway=pathway, state=state))


@bp.get("/search")
def search_practice() -> ResponseReturnValue:
    """Texts, notes, names and numbers across the practice, through the sealed index (docs/API.md)."""
    try:
        query = search.parse(request.args.get("q", ""))
    except search.QueryError as exc:
        return _error(422, str(exc))
    hits = search.search(current_user.practice_id, query)
    results = [
        search_hit_json(hit.journey, hit.message, hit.snippet) for hit in hits
    ]  # before the commit expires them
    # What was searched for is ePHI: the audit keeps how many words and results, never the words.
    audit.record("search", words=len(query.words), count=len(hits))
    db.session.commit()
    return jsonify(results=results)


@bp.get("/journeys/<int:journey_id>")
def get_journey(journey_id: int) -> ResponseReturnValue:
    """One journey with its contact and consent badge."""
    journey = journey_or_404(journey_id)
    contact = journey.contact
    audit.record("journey.view", journey)
    db.session.commit()
    return jsonify(journey=journey_json(journey), contact=contact_json(contact, consent.badge(contact)))


@bp.get("/journeys/<int:journey_id>/messages")
def list_messages(journey_id: int) -> ResponseReturnValue:
    """A thread oldest first; `after` fetches only what a reconnecting page missed, `before` pages back."""
    journey = journey_or_404(journey_id)
    messages = thread(journey, after=query_int("after"), before=query_int("before"))
    # Serialise before the commit: it expires every loaded row, and each would reload one by one.
    payload = [message_json(m) for m in messages]
    audit.record("thread.view", journey, count=len(messages))
    mark_read(current_user, journey)
    db.session.commit()
    return jsonify(messages=payload)


def _composed_text(journey: Journey) -> tuple[str, int | None]:
    """The text staff want to send: free text, or a manual template of their practice."""
    data = json_object()
    template_id = data.get("template_id")
    if template_id is not None:
        template_id = parse_id(template_id)
        template = db.session.get(Template, template_id) if template_id is not None else None
        if (
            template is None
            or template.practice_id != journey.practice_id
            or template.mode != "manual"
            or not template.enabled
        ):
            abort(404)
        return template.body, template.id
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        abort(_error(400, "write a message or pick a template"))
    if len(body) > 1600:
        abort(_error(400, "a text can be at most 1600 characters"))
    return body, None


@bp.post("/journeys/<int:journey_id>/preview")
def preview_message(journey_id: int) -> ResponseReturnValue:
    """Placeholders filled, segments counted, and what sending would do now."""
    journey = journey_or_404(journey_id)
    text, _template_id = _composed_text(journey)
    try:
        result = preview(journey, text, current_user)
    except TemplateError as exc:
        return _error(422, str(exc))
    payload = preview_json(result.body, result.decision, count_segments(result.body))
    # Audited only once nothing can fail: a request that fails leaves no audit row behind.
    audit.record("message.preview", journey)  # the preview fills in the contact's name
    db.session.commit()
    return jsonify(payload)


@bp.post("/journeys/<int:journey_id>/messages")
def send_message(journey_id: int) -> ResponseReturnValue:
    """A staff reply: stored as queued or held_for_consent (or `scheduled` with `send_at`), or refused
    with the reason."""
    journey = journey_or_404(journey_id)
    text, template_id = _composed_text(journey)
    send_at = _send_at()
    try:
        body = preview(journey, text, current_user).body
        msg = compose(
            journey, body, kind=Kind.STAFF, author=current_user, template_id=template_id, send_at=send_at
        )
    except TemplateError as exc:
        return _error(422, str(exc))
    except Blocked as exc:
        db.session.rollback()
        return _error(409, exc.reason, reason=exc.reason)
    audit.record("message.send", msg, journey_id=journey.id, status=msg.status)
    db.session.commit()
    return jsonify(message=message_json(msg)), 201


def _send_at() -> datetime | None:
    """A follow-up's `send_at` (ISO 8601 with an offset, within a year), None to send now; else a 422."""
    value = json_object().get("send_at")
    if value is None:
        return None
    try:
        return future_moment(value, "send_at", utcnow())
    except BadInput as exc:
        abort(_error(422, str(exc)))


@bp.post("/journeys/<int:journey_id>/unread")
def unread_journey(journey_id: int) -> ResponseReturnValue:
    """Mark the journey unread for this staff member only: its badge comes back in their lists."""
    journey = journey_or_404(journey_id)
    try:
        unread = journeys.mark_unread(current_user, journey)
    except journeys.NothingUnread as exc:
        db.session.rollback()
        return _error(409, str(exc))
    audit.record("journey.unread", journey)
    db.session.commit()
    return jsonify(journey_id=journey.id, unread=unread)


@bp.post("/journeys/<int:journey_id>/read")
def read_journey(journey_id: int) -> ResponseReturnValue:
    """Mark the journey read up to its last message for this staff member."""
    journey = journey_or_404(journey_id)
    mark_read(current_user, journey)
    db.session.commit()
    return jsonify(ok=True)


@bp.post("/journeys/<int:journey_id>/opt-in-request")
def resend_opt_in(journey_id: int) -> ResponseReturnValue:
    """Staff (re)send the opt-in request by hand; within a day of the last one only with {"force": true}.
    Inside quiet hours it is queued for the morning: `reason` and the message's `not_before` say when."""
    journey = journey_or_404(journey_id)
    force = json_object().get("force") is True
    try:
        msg = request_opt_in(journey, actor=current_user, force=force)
    except AskedRecently as exc:
        db.session.rollback()
        return _error(409, exc.reason, last_sent_at=iso(exc.last_sent_at))
    except Blocked as exc:
        db.session.rollback()
        return _error(409, exc.reason, reason=exc.reason)
    audit.record("consent.opt_in_request", journey.contact, journey_id=journey.id, forced=force)
    db.session.commit()
    assert msg is not None  # only an automatic request returns None (it lost the race to another)
    return jsonify(message=message_json(msg), reason=msg.consent_decision), 201


@bp.post("/contacts/<int:contact_id>/journeys")
def create_journey(contact_id: int) -> ResponseReturnValue:
    """Start a new journey for an existing contact (a returning client, a second child in care)."""
    contact = contact_or_404(contact_id)
    data = json_object()
    pathway = data.get("pathway", "intake")
    if not isinstance(pathway, str) or pathway not in PATHWAYS:
        return _error(400, "unknown pathway")
    journey = open_journey(contact, pathway=pathway, source="manual", actor=current_user)
    log_activity(
        journey, f"{current_user.display_name} started this journey in {PATHWAYS[pathway]}", current_user
    )
    db.session.commit()
    return jsonify(journey=journey_json(journey), url=f"/journeys/{journey.id}"), 201


@bp.patch("/journeys/<int:journey_id>")
def update_journey(journey_id: int) -> ResponseReturnValue:
    """Assign, move between pathways and stages, close or reopen."""
    journey = journey_or_404(journey_id)
    try:
        journeys.update_journey(journey, json_object(), current_user)
    except journeys.JourneyChangeError as exc:
        db.session.rollback()
        return _error(exc.status, str(exc))
    db.session.commit()
    return jsonify(journey=journey_json(journey))


@bp.get("/journeys/<int:journey_id>/attachments")
def list_attachments(journey_id: int) -> ResponseReturnValue:
    """The journey's photos and files, newest first (the Attachments tab)."""
    journey = journey_or_404(journey_id)
    attachments = db.session.scalars(
        select(Attachment).where(Attachment.journey_id == journey.id).order_by(Attachment.id.desc())
    )
    payload = [attachment_json(a) for a in attachments]
    audit.record("attachments.list", journey, count=len(payload))
    db.session.commit()
    return jsonify(attachments=payload)


@bp.patch("/attachments/<int:attachment_id>")
def update_attachment(attachment_id: int) -> ResponseReturnValue:
    """Label a photo (insurance card front/back, photo ID, other) or mark it reviewed."""
    att = attachment_or_404(attachment_id)
    data = json_object()
    if "label" in data:
        label = data["label"]
        if label is not None and (not isinstance(label, str) or label not in ATTACHMENT_LABELS):
            return _error(400, "unknown label")
        att.label = data["label"]
    if data.get("reviewed"):
        att.reviewed_by_id, att.reviewed_at = current_user.id, utcnow()
    audit.record("attachment.update", att, label=att.label, reviewed=bool(data.get("reviewed")))
    db.session.flush()
    announce(att.message)
    db.session.commit()
    return jsonify(attachment=attachment_json(att))


@bp.post("/attachments/<int:attachment_id>/retry")
def retry_attachment(attachment_id: int) -> ResponseReturnValue:
    """Try an unavailable attachment's download again."""
    att = attachment_or_404(attachment_id)
    if att.status != AttachmentStatus.UNAVAILABLE or not att.source_url:
        return _error(409, "this attachment cannot be fetched again")
    att.status, att.attempts, att.next_attempt_at, att.error = AttachmentStatus.PENDING, 0, utcnow(), None
    audit.record("attachment.retry", att)
    db.session.commit()
    return jsonify(attachment=attachment_json(att))


@bp.get("/contacts/<int:contact_id>/consent")
def consent_history(contact_id: int) -> ResponseReturnValue:
    """The contact's consent ledger, newest first."""
    contact = contact_or_404(contact_id)
    events = db.session.scalars(
        select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id.desc())
    )
    payload = [consent_event_json(e) for e in events]
    audit.record("consent.view", contact)
    db.session.commit()
    return jsonify(consent=consent.badge(contact), events=payload)


@bp.post("/contacts/<int:contact_id>/consent")
def change_consent(contact_id: int) -> ResponseReturnValue:
    """Staff record an opt-out any time; an opt-in only with the attested phone-consent sentence."""
    contact = contact_or_404(contact_id)
    data = json_object()
    state, note = data.get("state"), data.get("note")
    if note is not None and not isinstance(note, str):
        return _error(400, "note must be text")
    if state == ConsentState.OPTED_OUT:
        consent.record(contact, ConsentState.OPTED_OUT, "staff_manual", evidence=note, actor=current_user)
    elif state == ConsentState.OPTED_IN:
        if not consent.staff_opt_in_allowed(data.get("attestation")):
            return _error(
                422, "an opt-in needs the attestation sentence", attestation=wording.PHONE_ATTESTATION
            )
        consent.record(
            contact,
            ConsentState.OPTED_IN,
            "phone_attestation",
            evidence=wording.PHONE_ATTESTATION,
            actor=current_user,
        )
    else:
        return _error(400, "state must be opted_out or opted_in")
    audit.record("consent.change", contact, state=state)
    db.session.commit()
    return jsonify(consent=consent.badge(contact))


@bp.put("/contacts/<int:contact_id>/time-zone")
def set_time_zone(contact_id: int) -> ResponseReturnValue:
    """Staff set the contact's own time zone (quiet hours follow it), or null to go by the number."""
    contact = contact_or_404(contact_id)
    zone = json_object().get("time_zone")
    if zone is not None and not is_time_zone(zone):
        return _error(400, "unknown time zone: pick one from the list (an IANA name such as America/Chicago)")
    was, contact.time_zone = contact.time_zone, zone
    audit.record("contact.time_zone", contact, time_zone=zone, was=was)
    db.session.commit()
    return jsonify(time_zone=contact.time_zone, quiet=consent.quiet_note(contact))


@bp.post("/messages/<int:message_id>/redact")
@admin_required
def redact_message(message_id: int) -> ResponseReturnValue:
    """Admins only: destroy a message's body and media for good, here and at Twilio."""
    msg = message_or_404(message_id)
    if msg.redacted_at or msg.purged_at:
        return _error(
            409, "already redacted" if msg.redacted_at else "already purged by the retention policy"
        )
    problems = redact(msg, current_user, gateway_for())
    return jsonify(message=message_json(msg), twilio_problems=problems)


@bp.post("/messages/<int:message_id>/move")
def move_message(message_id: int) -> ResponseReturnValue:
    """Put a contact's text (or a note) into another journey of the same contact."""
    msg = message_or_404(message_id)
    raw = json_object().get("journey_id")
    if not isinstance(raw, int) or isinstance(raw, bool):
        return _error(400, "journey_id must be the id of a journey")
    target_id = parse_id(raw)
    if target_id is None:
        abort(404)  # past any id a journey can have (or negative): no such journey, as in a path
    target = journey_or_404(target_id)
    try:
        journeys.move_message(msg, target, current_user)
    except journeys.CannotMove:
        abort(404)
    db.session.commit()
    return jsonify(message=message_json(msg))


@bp.post("/messages/<int:message_id>/cancel")
def cancel_message(message_id: int) -> ResponseReturnValue:
    """Stop a held or queued text before it goes to Twilio."""
    msg = message_or_404(message_id)
    was = msg.status
    if msg.direction != Direction.OUTBOUND or not cancel(msg, current_user):
        db.session.rollback()
        return _error(
            409, "this text is not waiting any more: it cannot be cancelled", message_status=msg.status
        )
    audit.record("message.cancel", msg, journey_id=msg.journey_id, was=was)
    db.session.commit()
    return jsonify(message=message_json(msg))


@bp.get("/templates")
def list_templates() -> ResponseReturnValue:
    """Manual templates staff can pick in the composer."""
    templates = db.session.scalars(
        select(Template)
        .where(
            Template.practice_id == current_user.practice_id,
            Template.mode == "manual",
            Template.enabled.is_(True),
        )
        .order_by(Template.name)
    )
    return jsonify(templates=[template_json(t) for t in templates])


@bp.get("/staff")
def list_staff() -> ResponseReturnValue:
    """Active staff of the practice (for assignment)."""
    users = db.session.scalars(
        select(User)
        .where(User.practice_id == current_user.practice_id, User.active.is_(True))
        .order_by(User.id)
    )
    return jsonify(staff=[staff_json(u) for u in users])


def _json_error(exc: HTTPException) -> HTTPException | SansIOResponse:
    """Under /api/, every HTTP error is JSON, as docs/API.md says; pages keep Werkzeug's answers."""
    if not request.path.startswith("/api/"):
        return exc
    if exc.response is not None:  # abort(_error(...)) already built its JSON answer
        return exc.response
    # An instance's description is None only when its class has none, so a described one is a str.
    if exc.description is not None and exc.description != type(exc).description:
        message = exc.description
    else:
        message = (exc.name or "error").lower()
    response = _error(exc.code or 500, message)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def init_app(app: Flask) -> None:
    """Register the API and its JSON errors (a 404 for an unknown path under /api/ too)."""
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _json_error)
