"""A local stand-in for Twilio's REST API, served over real HTTP for the real twilio client."""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from email.utils import formatdate
from typing import Any

from twilio.request_validator import RequestValidator
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

API = "/2010-04-01/Accounts"
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MESSAGES = re.compile(rf"^{API}/(?P<ac>\w+)/Messages\.json$")
MESSAGE = re.compile(rf"^{API}/(?P<ac>\w+)/Messages/(?P<sid>\w+)\.json$")
MEDIA = re.compile(rf"^{API}/(?P<ac>\w+)/Messages/(?P<msg>\w+)/Media/(?P<sid>ME\w+?)(\.json)?$")


def new_sid(prefix: str) -> str:
    """Make a SID shaped like Twilio's: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def sign(url: str, params: dict[str, Any], auth_token: str) -> str:
    """Compute the X-Twilio-Signature Twilio would send for this webhook."""
    return RequestValidator(auth_token).compute_signature(url, params)


def error(status: int, code: int, message: str) -> Response:
    """Answer with Twilio's JSON error shape."""
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(json.dumps(payload), status=status, mimetype="application/json")


class _Quiet(WSGIRequestHandler):
    """A request handler that keeps the test output free of access logs."""

    def log_request(self, *args: Any) -> None:
        """Skip the access log line."""


class FakeTwilio:
    """Twilio's Messages and Media endpoints, with failure injection, on 127.0.0.1."""

    def __init__(self, hang_seconds: float = 2.0) -> None:
        """Create credentials and empty state; call start() to serve."""
        self.account_sid = new_sid("AC")
        self.auth_token = secrets.token_hex(16)
        self.hang_seconds = hang_seconds  # longer than the client timeout used in tests
        self.unsubscribed: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.send_attempts = 0
        self.deleted_messages: list[str] = []
        self.deleted_media: list[str] = []
        self.media_requests: list[dict[str, Any]] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self._media: dict[str, dict[str, Any]] = {}
        self._failures: list[tuple[int, int]] = []
        self._drops: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Any = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Serve on a free port in a daemon thread."""
        app = Request.application(self._dispatch)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # A short poll interval makes stop() quick; the default 0.5 s adds up over a suite.
        serve = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        """Stop serving and release any request still hanging."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTwilio:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a with-block."""
        self.stop()

    # -- test controls ---------------------------------------------------------

    def fail_next(self, http_status: int, code: int | None = None, times: int = 1) -> None:
        """Answer the next `times` sends with this HTTP status and a Twilio error."""
        # Twilio's generic codes are 20000 + status (20429, 20500, 20503).
        with self._lock:
            self._failures.extend([(http_status, code or 20000 + http_status)] * times)

    def drop_next_after_receipt(self, *, close: bool = False) -> None:
        """Accept the next send, then hang for hang_seconds (or drop the connection)."""
        with self._lock:
            self._drops.append("close" if close else "hang")

    def add_media(
        self, message_sid: str, content: bytes, content_type: str, redirect_to: str | None = None
    ) -> str:
        """Host a media file for an inbound message and return its Twilio-style URL."""
        sid = new_sid("ME")
        with self._lock:
            self._media[sid] = {"content": content, "type": content_type, "to": redirect_to}
        return f"{self.url}{API}/{self.account_sid}/Messages/{message_sid}/Media/{sid}"

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Move a sent message to a new status, as delivery progresses at Twilio."""
        with self._lock:
            self.messages[sid].update(status=status, error_code=error_code)

    def status_callback_params(self, sid: str, status: str, error_code: int | None = None) -> dict[str, str]:
        """Set the status and return the form Twilio would POST to the StatusCallback."""
        self.set_status(sid, status, error_code)
        message = self.messages[sid]
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": message["from"],
            "To": message["to"],
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    # -- HTTP ------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        """Route a request to the matching Twilio endpoint."""
        if match := MEDIA.match(request.path):
            return self._media_endpoint(request, match["sid"], request.path.endswith(".json"))
        if not self._authorized(request):
            return error(401, 20003, "Authenticate")
        collection, item = MESSAGES.match(request.path), MESSAGE.match(request.path)
        if collection and collection["ac"] == self.account_sid and request.method == "POST":
            return self._create(request)
        if item and item["ac"] == self.account_sid and request.method in ("GET", "DELETE"):
            return self._message(request, item["sid"])
        return error(404, 20404, f"The requested resource {request.path} was not found")

    def _authorized(self, request: Request) -> bool:
        """Check HTTP basic auth against the account's credentials."""
        auth = request.authorization
        return bool(auth and (auth.username, auth.password) == (self.account_sid, self.auth_token))

    def _create(self, request: Request) -> Response:
        """POST Messages.json: validate like Twilio, then queue the message."""
        form = request.form
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        with self._lock:
            self.send_attempts += 1
            if self._failures:
                status, code = self._failures.pop(0)
                return error(status, code, "Injected failure")
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(to):
            return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        if not body and not form.getlist("MediaUrl"):
            return error(400, 21602, "Message body is required.")
        message = self._resource(to, from_, body, len(form.getlist("MediaUrl")))
        with self._lock:
            self.messages[message["sid"]] = message
            self.sent.append(
                {
                    "sid": message["sid"],
                    "to": to,
                    "from_": from_,
                    "body": body,
                    "status_callback": form.get("StatusCallback"),
                    "media_urls": form.getlist("MediaUrl"),
                }
            )
            drop = self._drops.pop(0) if self._drops else ""
        if drop == "close":
            # Shut the socket without answering: the client sees the connection drop.
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        elif drop == "hang":
            self._stopping.wait(self.hang_seconds)
        return Response(json.dumps(message), status=201, mimetype="application/json")

    def _resource(self, to: str, from_: str, body: str, num_media: int) -> dict[str, Any]:
        """Build a Message resource as Twilio returns it."""
        sid, now = new_sid("SM"), formatdate(usegmt=True).replace("GMT", "+0000")
        uri = f"{API}/{self.account_sid}/Messages/{sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": None,
            "num_media": str(num_media),
            "num_segments": str(1 if len(body) <= 160 else -(-len(body) // 153)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }

    def _message(self, request: Request, sid: str) -> Response:
        """GET or DELETE one message."""
        with self._lock:
            message = self.messages.get(sid)
            if message is None:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            if request.method == "GET":
                return Response(json.dumps(message), mimetype="application/json")
            del self.messages[sid]
            self.deleted_messages.append(sid)
        return Response(status=204)

    def _media_endpoint(self, request: Request, sid: str, as_json: bool) -> Response:
        """Serve or delete hosted media; basic auth is required, as with Twilio's setting."""
        with self._lock:
            self.media_requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "auth": "Authorization" in request.headers,
                }
            )
        if not self._authorized(request):
            return error(401, 20003, "Authenticate")
        with self._lock:
            media = self._media.get(sid)
            if media is None:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            if request.method == "DELETE":
                del self._media[sid]
                self.deleted_media.append(sid)
                return Response(status=204)
        if request.method != "GET":
            return error(405, 20004, "Method not allowed")
        if as_json:
            info = {"sid": sid, "content_type": media["type"], "uri": request.path}
            return Response(json.dumps(info), mimetype="application/json")
        if media["to"]:
            return Response(status=307, headers={"Location": media["to"]})
        return Response(media["content"], content_type=media["type"])
