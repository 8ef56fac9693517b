"""Twilio's webhooks: signed, validated, and answered fast (slow work goes to the worker)."""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from inbox.common import audit
from inbox.extensions import db
from inbox.texting.inbound import BadWebhook, UnknownNumber, receive_message
from inbox.texting.outbox import apply_status_callback

bp = Blueprint("webhooks", __name__, url_prefix="/twilio")
log = logging.getLogger(__name__)


MAX_WEBHOOK_BYTES = 256 * 1024  # a 1600-character text with ten media URLs is a few KB


@bp.before_request
def limit_size():
    """Twilio's forms are small; refuse anything bigger before parsing it."""
    request.max_content_length = MAX_WEBHOOK_BYTES


def public_url() -> str:
    """The URL Twilio called: our configured public base + path + query, whatever proxies did to Host."""
    query = request.query_string.decode("latin-1")
    return current_app.config["INBOX_PUBLIC_URL"] + request.path + (f"?{query}" if query else "")


def signed(view):
    """Reject (403, audited, nothing stored) any request without a valid X-Twilio-Signature."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(public_url(), request.form, signature):
            log.warning("rejected webhook with bad signature path=%s", request.path)
            audit.record("webhook.bad_signature", path=request.path)
            db.session.commit()
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def twiml(reply: str | None = None) -> Response:
    """An empty TwiML answer, or one that texts `reply` back."""
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), mimetype="text/xml")


@bp.post("/messages")
@signed
def incoming_message():
    """Twilio's "a message comes in": store first, answer second."""
    try:
        received = receive_message(request.form)
    except BadWebhook as exc:
        log.info("bad inbound webhook: %s", exc)
        return Response(f"Bad request: {exc}", status=400, mimetype="text/plain")
    except UnknownNumber:
        # Twilio's debugger shows this answer to whoever set up the number.
        return Response("This number is not set up in Intake Inbox.", status=404, mimetype="text/plain")
    return twiml(None if received.duplicate else received.reply)


@bp.post("/status")
@signed
def status_callback():
    """Twilio's status callback for an outbound text."""
    sid = request.form.get("MessageSid", "")
    status = request.form.get("MessageStatus", "").lower()
    if not sid or not status:
        return Response("MessageSid and MessageStatus are required", status=400, mimetype="text/plain")
    try:
        code = int(request.form["ErrorCode"]) if request.form.get("ErrorCode") else None
    except ValueError:
        return Response("ErrorCode is not a number", status=400, mimetype="text/plain")
    apply_status_callback(sid, status, code, uid=request.args.get("m"))
    db.session.commit()
    return Response(status=204)


@bp.post("/check")
@signed
def check_probe():
    """The webhook check's probe (inbox/webhook_check.py): a signed POST proving the public URL reaches us."""
    from inbox.gateway.webhook_check import (
        probe_answer,  # both halves of the check live together in webhook_check.py
    )

    return probe_answer(request.form.get("Nonce", ""))
