"""Twilio's webhooks: signed, validated, and answered fast (slow work goes to the worker)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import ParamSpec

from flask import Blueprint, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from inbox.common import audit
from inbox.common.inputs import is_clean, parse_id
from inbox.common.transactions import retried
from inbox.extensions import db
from inbox.gateway.webhook_check import probe_answer  # both halves of the check live together there
from inbox.texting import escalation
from inbox.texting.inbound import SID, BadWebhook, NotRouted, Reply, UnknownNumber, receive_message
from inbox.texting.outbox import apply_status_callback

bp = Blueprint("webhooks", __name__, url_prefix="/twilio")
log = logging.getLogger(__name__)


MAX_WEBHOOK_BYTES = 256 * 1024  # a 1600-character text with ten media URLs is a few KB
UID = re.compile(r"[0-9a-f]{32}")  # models.new_uid(), which names the message in its callback URL
MAX_ERROR_CODE = 2**31 - 1  # Twilio's codes have five digits; the column is a 32-bit integer


@bp.before_request
def limit_size() -> None:
    """Twilio's forms are small; refuse anything bigger before parsing it."""
    request.max_content_length = MAX_WEBHOOK_BYTES


def public_url() -> str:
    """The URL Twilio called: our configured public base + path + query, whatever proxies did to Host."""
    query = request.query_string.decode("latin-1")
    return current_app.config["INBOX_PUBLIC_URL"] + request.path + (f"?{query}" if query else "")


P = ParamSpec("P")  # a wrapped view's parameters


def signed(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Reject (403, audited, nothing stored) any request without a valid X-Twilio-Signature."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(public_url(), request.form, signature):
            # Counted per source and minute, with a sample kept in full (and logged): unsigned posts
            # are free to send, so one row (and line) each would let anyone grow the table.
            if audit.sampled("webhook.bad_signature", bucket=request.path, path=request.path):
                log.warning("rejected webhook with bad signature path=%s", request.path)
            db.session.commit()
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def twiml(reply: Reply | None = None) -> Response:
    """An empty TwiML answer, or one that texts `reply` back. Twilio calls `action` with the reply's
    SID and status, as a REST send's status callback, so the thread shows whether it was delivered."""
    response = MessagingResponse()
    if reply:
        callback = current_app.config["INBOX_PUBLIC_URL"] + f"/twilio/status?m={reply.uid}"
        response.message(reply.body, action=callback, method="POST")
    return Response(str(response), mimetype="text/xml")


@bp.post("/messages")
@signed
@retried()  # a text that lost a deadlock is stored on the next try, not answered 500 (and lost)
def incoming_message() -> ResponseReturnValue:
    """Twilio's "a message comes in": store first, answer second."""
    try:
        received = receive_message(request.form)
    except BadWebhook as exc:
        log.info("bad inbound webhook: %s", exc)
        return Response(f"Bad request: {exc}", status=400, mimetype="text/plain")
    except NotRouted:
        return twiml()  # WhatsApp, a short code: counted, deliberately not stored (docs/routing.md)
    except UnknownNumber:
        # Twilio's debugger shows this answer to whoever set up the number.
        return Response("This number is not set up in Intake Inbox.", status=404, mimetype="text/plain")
    return twiml(received.reply)  # a repeated webhook repeats a reply its lost answer carried


@bp.post("/status")
@signed
@retried()
def status_callback() -> ResponseReturnValue:
    """Twilio's status callback for an outbound text: a message of a thread (`m`: its uid) or an
    escalation text to a staff member's phone (`e`: its id)."""
    sid = request.form.get("MessageSid", "")
    status = request.form.get("MessageStatus", "").lower()
    uid = request.args.get("m") or None
    escalation_id = parse_id(request.args["e"]) if "e" in request.args else None
    if "e" in request.args and escalation_id is None:
        return Response("e is not one of our escalation ids", status=400, mimetype="text/plain")
    if not SID.fullmatch(sid) or not status or not is_clean(status):
        return Response("MessageSid and MessageStatus are required", status=400, mimetype="text/plain")
    if uid is not None and not UID.fullmatch(uid):
        return Response("m is not one of our message ids", status=400, mimetype="text/plain")
    code = None
    if request.form.get("ErrorCode"):
        code = parse_id(request.form["ErrorCode"])
        if code is None or code > MAX_ERROR_CODE:
            return Response("ErrorCode is not a number", status=400, mimetype="text/plain")
    if escalation_id is not None or apply_status_callback(sid, status[:20], code, uid=uid) is None:
        escalation.apply_status_callback(sid, status[:20], code, escalation_id)
    db.session.commit()
    return Response(status=204)


@bp.post("/check")
@signed
def check_probe() -> ResponseReturnValue:
    """The webhook check's probe (inbox/webhook_check.py): a signed POST proving the public URL reaches us."""
    return probe_answer(request.form.get("Nonce", ""))
