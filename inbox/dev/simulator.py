"""The Twilio simulator: play a client's phone in the browser, through the very same signed webhooks.

Only registered when there are no Twilio credentials (never in production). Texts typed here are
posted to /twilio/messages signed with the development token, photos are served from /simulator/media
behind basic auth as Twilio serves them, and the app's outbound texts land back on the simulated phone
with signed status callbacks.

It is the demo that `make run` starts, often on a shared staging box, so a coordinator sees and texts
only their own practice's numbers (another practice's number is a 404, as everywhere else), and the
photos it hosts are sealed on disk like every other upload, and deleted when the webhook refuses them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from inbox import gateway
from inbox.common.phones import InvalidNumber, to_e164
from inbox.crypto import DecryptionError, keyring
from inbox.extensions import db, socketio
from inbox.gateway.rest import Alert, AvailableNumber, OwnedNumber, SendError, SendResult
from inbox.media.processing import sniff
from inbox.models import Message, PracticeNumber
from inbox.texting.journeys import find_contact
from inbox.vocabulary import Direction, Status

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
SIM_ACCOUNT = "ACsimulator"
MAX_PHOTO = 5 * 1024 * 1024


def _media_dir() -> Path:
    """Where the simulated phone's photos wait to be fetched (as Twilio would host them)."""
    path = Path(current_app.instance_path) / "simulator-media"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _aad(token: str) -> str:
    """Associated data binding a hosted photo's ciphertext to its token."""
    return f"simulator-media:{token}"


def _host_photo(data: bytes) -> str:
    """Keep a photo for the worker to fetch, sealed (mode 0600) like every stored upload; its token."""
    token = secrets.token_hex(16)
    fd = os.open(_media_dir() / token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(keyring().seal(data, _aad(token)))
    return token


def _own_number(e164: str) -> PracticeNumber:
    """A texting number of the user's own practice; another practice's is a 404."""
    number = db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == e164))
    if number is None or number.practice_id != current_user.practice_id:
        abort(404)
    return number


def _post_signed(app: Flask, url: str, params: dict[str, str]) -> TestResponse:
    """POST a form to our own webhook exactly as Twilio would: signed for the public URL."""
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    path = url[len(app.config["INBOX_PUBLIC_URL"]) :]
    return app.test_client().post(path, data=params, headers={"X-Twilio-Signature": signature})


class SimulatorGateway:
    """The gateway's twin in simulator mode: 'sends' land on the simulated phone."""

    def __init__(self, app: Flask):
        self.app = app
        self.media_auth = (SIM_ACCOUNT, app.config["TWILIO_AUTH_TOKEN"])

    def send_message(
        self, *, from_: str, to: str, body: str, status_callback: str | None = None, **_: Any
    ) -> SendResult:
        """Accept the text like Twilio would, then report it sent and delivered."""
        sid = "SM" + secrets.token_hex(16)
        if status_callback:
            socketio.start_background_task(self._report, sid, from_, to, status_callback)
        return SendResult(sid=sid, status=Status.QUEUED)

    def _report(self, sid: str, from_: str, to: str, callback: str) -> None:
        """Signed status callbacks, a moment apart, like a real carrier's."""
        for status in ("sent", "delivered"):
            socketio.sleep(0.4)
            params = {
                "MessageSid": sid,
                "MessageStatus": status,
                "AccountSid": SIM_ACCOUNT,
                "From": from_,
                "To": to,
            }
            _post_signed(self.app, callback, params)

    def delete_media(self, media_url: str) -> None:
        """Twilio deletes its copy; the simulator deletes the photo it hosted."""
        token = urlsplit(media_url).path.rsplit("/", 1)[-1]
        if token.isalnum():
            (Path(self.app.instance_path) / "simulator-media" / token).unlink(missing_ok=True)

    def delete_message(self, sid: str) -> None:
        """Nothing is kept at the simulated Twilio."""

    def search_local_numbers(self, area_code: str, limit: int = 20) -> list[AvailableNumber]:
        """Made-up numbers for sale: the area code's fictional 555-0100 to 555-0199."""
        owned = {number.e164 for number in self._numbers().values()}
        offers = (f"+1{area_code}55501{i:02d}" for i in range(100))
        return [AvailableNumber(e164, "Simulated", "") for e164 in offers if e164 not in owned][:limit]

    def buy_number(self, e164: str, sms_url: str) -> OwnedNumber:
        """'Buy' a made-up number into the simulated account."""
        numbers = self._numbers()
        if any(number.e164 == e164 for number in numbers.values()):
            raise SendError("the number is not available", code=21422, http_status=400)
        number = OwnedNumber("PN" + secrets.token_hex(16), e164, sms_url, "POST")
        numbers[number.sid] = number
        return number

    def list_numbers(self) -> list[OwnedNumber]:
        """The simulated account's numbers."""
        return list(self._numbers().values())

    def fetch_number(self, sid: str) -> OwnedNumber:
        """One of the simulated account's numbers."""
        number = self._numbers().get(sid)
        if number is None:
            raise SendError("Not found at Twilio.", code=20404, http_status=404)
        return number

    def point_number(self, sid: str, sms_url: str) -> OwnedNumber:
        """Point a simulated number's texts at sms_url."""
        number = replace(self.fetch_number(sid), sms_url=sms_url, sms_method="POST", sms_application_sid="")
        self._numbers()[sid] = number
        return number

    def webhook_alerts(self, since: datetime) -> list[Alert]:
        """The simulator's webhooks never fail at Twilio: there is no Twilio."""
        return []

    def _numbers(self) -> dict[str, OwnedNumber]:
        """The simulated account: every practice number in the database, plus any bought since start."""
        numbers = self.app.extensions.setdefault("simulator_numbers", {})
        known = {number.e164 for number in numbers.values()}
        sms_url = self.app.config["INBOX_PUBLIC_URL"] + "/twilio/messages"
        for practice_number in db.session.scalars(select(PracticeNumber)):
            if practice_number.e164 not in known:
                digest = hashlib.sha256(practice_number.e164.encode()).hexdigest()[:32]
                sid = practice_number.twilio_sid or "PN" + digest
                numbers[sid] = OwnedNumber(sid, practice_number.e164, sms_url, "POST")
        return numbers


@bp.before_request
@login_required
def require_login() -> None:
    """Only logged-in staff play the phone (media fetches use basic auth instead)."""


@bp.get("/")
def page() -> ResponseReturnValue:
    """The simulated phone."""
    numbers = db.session.scalars(
        select(PracticeNumber)
        .where(PracticeNumber.practice_id == current_user.practice_id)
        .order_by(PracticeNumber.id)
    ).all()
    return render_template(
        "simulator.html",
        numbers=[{"e164": n.e164, "practice": n.practice.name} for n in numbers],
        default_from="+15551230000",
    )


@bp.post("/send")
def send() -> ResponseReturnValue:
    """Text the practice from the simulated phone, with optional photos."""
    try:
        from_, to = to_e164(request.form.get("from", "")), to_e164(request.form.get("to", ""))
    except InvalidNumber as exc:
        return jsonify(error=str(exc)), 400
    _own_number(to)
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": SIM_ACCOUNT,
        "From": from_,
        "To": to,
        "Body": request.form.get("body", ""),
        "NumMedia": "0",
    }
    photos = [f for f in request.files.getlist("photo") if f.filename][:10]
    contents = [photo.read(MAX_PHOTO + 1) for photo in photos]
    if any(len(data) > MAX_PHOTO for data in contents):
        return jsonify(error="photos can be at most 5 MB"), 400
    tokens: list[str] = []
    try:
        for i, (photo, data) in enumerate(zip(photos, contents, strict=True)):
            tokens.append(_host_photo(data))
            params[f"MediaUrl{i}"] = f"{current_app.config['INBOX_PUBLIC_URL']}/simulator/media/{tokens[-1]}"
            params[f"MediaContentType{i}"] = photo.mimetype or "application/octet-stream"
        params["NumMedia"] = str(len(photos))
        answer = _post_signed(
            current_app._get_current_object(),  # type: ignore[attr-defined]  # the proxy is typed as Flask
            current_app.config["INBOX_PUBLIC_URL"] + "/twilio/messages",
            params,
        )
    except BaseException:
        _forget(tokens)
        raise
    if answer.status_code >= 400:
        _forget(tokens)  # nothing will ever fetch them
        return jsonify(error=answer.get_data(as_text=True)), answer.status_code
    _deliver_replies(answer.get_data(as_text=True))
    return jsonify(ok=True)


def _deliver_replies(twiml: str) -> None:
    """As Twilio does with a TwiML reply: send it, then call its `action` URL with a new SID and
    "delivered", so the thread (and a safety alert) shows the reply's delivery as for any text."""
    # Our own server's answer, never a stranger's XML.
    for message in ElementTree.fromstring(twiml).iter("Message"):  # noqa: S314
        action = message.get("action")
        if action:
            _post_signed(
                current_app._get_current_object(),  # type: ignore[attr-defined]  # the proxy is typed as Flask
                action,
                {
                    "MessageSid": "SM" + secrets.token_hex(16),
                    "MessageStatus": "delivered",
                    "AccountSid": SIM_ACCOUNT,
                },
            )


def _forget(tokens: list[str]) -> None:
    """Delete hosted photos."""
    for token in tokens:
        (_media_dir() / token).unlink(missing_ok=True)


@bp.get("/thread")
def thread() -> ResponseReturnValue:
    """What the simulated phone has sent and received with one practice number."""
    try:
        from_, to = to_e164(request.args.get("from", "")), to_e164(request.args.get("to", ""))
    except InvalidNumber:
        return jsonify(messages=[])
    number = _own_number(to)
    contact = find_contact(number.practice_id, from_)
    if not contact:
        return jsonify(messages=[])
    messages = db.session.scalars(
        select(Message)
        .where(
            Message.contact_id == contact.id,
            Message.redacted_at.is_(None),
            Message.purged_at.is_(None),
            (Message.direction == Direction.INBOUND) | Message.status.in_(("sending", "sent", "delivered")),
        )
        .order_by(Message.id)
    )
    return jsonify(
        messages=[
            {
                "id": m.id,
                "direction": m.direction,
                "body": m.body,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
                "attachments": len(m.attachments),
            }
            for m in messages
        ]
    )


def serve_media(token: str) -> Response:
    """Serve a hosted photo to the worker, behind basic auth like Twilio's media URLs."""
    auth = request.authorization
    config = current_app.config
    if (
        not auth
        or auth.username != SIM_ACCOUNT
        or not secrets.compare_digest(auth.password or "", config["TWILIO_AUTH_TOKEN"])
    ):
        return Response("authentication required", 401, {"WWW-Authenticate": 'Basic realm="simulator"'})
    if not token.isalnum():
        abort(404)
    path = _media_dir() / token
    if not path.exists():
        abort(404)
    try:
        data = keyring().open(path.read_bytes(), _aad(token))
    except DecryptionError:
        abort(404)
    return Response(data, mimetype=sniff(data) or "application/octet-stream")


def init_app(app: Flask) -> None:
    """Register the simulator, its media route (outside the login wall: the worker uses basic auth) and
    its twin of the gateway, which every Twilio call of this app now goes through."""
    app.register_blueprint(bp)
    gateway.use(app, SimulatorGateway(app))
    app.add_url_rule("/simulator/media/<token>", "simulator_media", serve_media)
