"""A local stand-in for Twilio's REST API, served over real HTTP for the real twilio client."""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

API = "/2010-04-01/Accounts"
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MESSAGES = re.compile(rf"^{API}/(?P<ac>\w+)/Messages\.json$")
MESSAGE = re.compile(rf"^{API}/(?P<ac>\w+)/Messages/(?P<sid>\w+)\.json$")
MEDIA = re.compile(rf"^{API}/(?P<ac>\w+)/Messages/(?P<msg>\w+)/Media/(?P<sid>ME\w+?)(\.json)?$")
AVAILABLE = re.compile(rf"^{API}/(?P<ac>\w+)/AvailablePhoneNumbers/US/Local\.json$")
NUMBERS = re.compile(rf"^{API}/(?P<ac>\w+)/IncomingPhoneNumbers\.json$")
NUMBER = re.compile(rf"^{API}/(?P<ac>\w+)/IncomingPhoneNumbers/(?P<sid>PN\w+)\.json$")
ALERTS = "/v1/Alerts"
# Settings a POST to IncomingPhoneNumbers may change, and the resource field each one sets.
NUMBER_FIELDS = {
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsApplicationSid": "sms_application_sid",
    "FriendlyName": "friendly_name",
}


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


def twilio_time() -> str:
    """Now, as Twilio's 2010 API writes dates (RFC 2822)."""
    return formatdate(usegmt=True).replace("GMT", "+0000")


class FakeTwilio:
    """Twilio's Messages, Media, phone number and alert endpoints, with failure injection, on 127.0.0.1."""

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
        # Numbers the account owns (IncomingPhoneNumbers) by SID, and numbers nobody may buy.
        self.numbers: dict[str, dict[str, Any]] = {}
        self.taken: set[str] = set()
        self.alerts: list[dict[str, Any]] = []
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

    def own_number(self, e164: str, sms_url: str = "", sms_method: str = "POST") -> dict[str, Any]:
        """Put a number in the account, as if bought earlier (for attaching)."""
        number = self._number_resource(e164)
        number.update(sms_url=sms_url, sms_method=sms_method)
        with self._lock:
            self.numbers[number["sid"]] = number
        return number

    def take_number(self, e164: str) -> None:
        """Another customer buys this number: it is no longer for sale."""
        with self._lock:
            self.taken.add(e164)

    def number_by_e164(self, e164: str) -> dict[str, Any] | None:
        """The owned number with this E.164, if the account has it."""
        with self._lock:
            return next((n for n in self.numbers.values() if n["phone_number"] == e164), None)

    def add_alert(self, error_code: str, request_url: str) -> None:
        """Record a debugger alert, as Twilio does when a webhook call fails."""
        with self._lock:
            self.alerts.insert(0, self._alert_resource(error_code, request_url))

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
        if request.path == ALERTS and request.method == "GET":
            since = request.args.get("StartDate", "")
            with self._lock:
                recent = [a for a in self.alerts if a["date_created"] >= since[:19]]
            return self._list(request, "alerts", recent, v1=True)
        if (
            match := AVAILABLE.match(request.path)
            or NUMBERS.match(request.path)
            or NUMBER.match(request.path)
        ):
            if match["ac"] != self.account_sid:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            return self._numbers_endpoint(request, match)
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
        sid, now = new_sid("SM"), twilio_time()
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

    # -- phone numbers and alerts ----------------------------------------------

    def _numbers_endpoint(self, request: Request, match: re.Match) -> Response:
        """AvailablePhoneNumbers/US/Local, IncomingPhoneNumbers and IncomingPhoneNumbers/<sid>."""
        if match.re is AVAILABLE and request.method == "GET":
            return self._list(request, "available_phone_numbers", self._for_sale(request.args))
        if match.re is NUMBERS and request.method == "GET":
            wanted = request.args.get("PhoneNumber", "")
            with self._lock:
                owned = [n for n in self.numbers.values() if wanted in n["phone_number"]]
            return self._list(request, "incoming_phone_numbers", owned)
        if match.re is NUMBERS and request.method == "POST":
            return self._buy(request)
        if match.re is NUMBER and request.method in ("GET", "POST"):
            with self._lock:
                number = self.numbers.get(match["sid"])
                if number is None:
                    return error(404, 20404, f"The requested resource {request.path} was not found")
                if request.method == "POST":
                    self._configure(number, request.form)
                return Response(json.dumps(number), mimetype="application/json")
        return error(405, 20004, "Method not allowed")

    def _for_sale(self, args: Any) -> list[dict[str, Any]]:
        """Numbers on sale in the area code: the fictional 555-01xx range, minus owned and taken ones."""
        area_code = args.get("AreaCode", "")
        if not re.fullmatch(r"[2-9]\d\d", area_code):
            return []
        with self._lock:
            unavailable = self.taken | {n["phone_number"] for n in self.numbers.values()}
        candidates = [f"+1{area_code}55501{i:02d}" for i in range(30)]
        return [self._available_resource(e164) for e164 in candidates if e164 not in unavailable]

    def _buy(self, request: Request) -> Response:
        """POST IncomingPhoneNumbers.json: buy a number that is on sale, configured as asked."""
        e164 = request.form.get("PhoneNumber", "")
        if not e164:
            return error(400, 21451, "Either PhoneNumber or AreaCode is required.")
        if not E164.match(e164):
            return error(400, 21421, f"PhoneNumber {e164} is invalid.")
        area_code = e164[2:5] if e164.startswith("+1") else ""
        if e164 not in {n["phone_number"] for n in self._for_sale({"AreaCode": area_code})}:
            return error(400, 21422, f"PhoneNumber {e164} is not available.")
        number = self._number_resource(e164)
        self._configure(number, request.form)
        with self._lock:
            self.numbers[number["sid"]] = number
        return Response(json.dumps(number), status=201, mimetype="application/json")

    @staticmethod
    def _configure(number: dict[str, Any], form: Any) -> None:
        """Apply the settings a POST carries; the others keep their values."""
        for param, field in NUMBER_FIELDS.items():
            if param in form:
                number[field] = form[param]
        number["date_updated"] = twilio_time()

    def _list(self, request: Request, key: str, records: list[Any], v1: bool = False) -> Response:
        """One page of a list, shaped like Twilio's 2010 API (or its v1 APIs, with `meta`)."""
        size = max(1, min(int(request.args.get("PageSize", 50)), 1000))
        page = int(request.args.get("Page", 0))
        chunk = records[page * size : (page + 1) * size]
        more = len(records) > (page + 1) * size
        query = {k: v for k, v in request.args.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(n: int) -> str:
            return request.path + "?" + urlencode({**query, "PageSize": size, "Page": n})

        next_uri = uri(page + 1) if more else None
        if v1:
            base = "https://monitor.twilio.com"
            meta = {
                "key": key,
                "page": page,
                "page_size": size,
                "first_page_url": base + uri(0),
                "previous_page_url": base + uri(page - 1) if page else None,
                "next_page_url": base + next_uri if next_uri else None,
                "url": base + uri(page),
            }
            return Response(json.dumps({key: chunk, "meta": meta}), mimetype="application/json")
        payload = {
            key: chunk,
            "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0),
            "page": page,
            "page_size": size,
            "uri": uri(page),
            "first_page_uri": uri(0),
            "previous_page_uri": uri(page - 1) if page else None,
            "next_page_uri": next_uri,
        }
        return Response(json.dumps(payload), mimetype="application/json")

    def _available_resource(self, e164: str) -> dict[str, Any]:
        """An AvailablePhoneNumber as Twilio lists it (note the upper-case capability keys)."""
        return {
            "friendly_name": f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}",
            "phone_number": e164,
            "lata": "722",
            "locality": "Springfield",
            "rate_center": "SPRINGFIELD",
            "latitude": "37.0",
            "longitude": "-93.0",
            "region": "MO",
            "postal_code": "65801",
            "iso_country": "US",
            "address_requirements": "none",
            "beta": False,
            "capabilities": {"voice": True, "SMS": True, "MMS": True, "fax": False},
        }

    def _number_resource(self, e164: str) -> dict[str, Any]:
        """An IncomingPhoneNumber as Twilio returns it, with nothing configured yet."""
        sid, now = new_sid("PN"), twilio_time()
        return {
            "account_sid": self.account_sid,
            "address_requirements": "none",
            "api_version": "2010-04-01",
            "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": now,
            "date_updated": now,
            "friendly_name": f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}",
            "origin": "twilio",
            "phone_number": e164,
            "sid": sid,
            "sms_application_sid": "",
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status": "in-use",
            "status_callback": "",
            "status_callback_method": "POST",
            "uri": f"{API}/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
            "voice_url": "",
            "voice_method": "POST",
        }

    def _alert_resource(self, error_code: str, request_url: str) -> dict[str, Any]:
        """A Monitor Alert as Twilio lists it."""
        sid, now = new_sid("NO"), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "account_sid": self.account_sid,
            "alert_text": "Msg=Unexpected+response&httpResponse=502",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_generated": now,
            "date_updated": now,
            "error_code": error_code,
            "log_level": "error",
            "more_info": f"https://www.twilio.com/docs/errors/{error_code}",
            "request_method": "POST",
            "request_url": request_url,
            "resource_sid": new_sid("SM"),
            "service_sid": None,
            "sid": sid,
            "url": f"https://monitor.twilio.com/v1/Alerts/{sid}",
        }
