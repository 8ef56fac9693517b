"""The one door to Twilio's REST API: messages and media, and the practice numbers themselves."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from inbox.gateway.errors import REASONS

log = logging.getLogger(__name__)
T = TypeVar("T")

# Media URLs from the inbound webhook look like .../Accounts/AC../Messages/MM../Media/ME..
_MEDIA_PATH = re.compile(
    r"/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/(\w+)/Media/(ME[0-9a-fA-F]{32})"
    r"(?:\.json)?$"
)

# What a Twilio call can raise besides bugs; ValueError is an unparseable answer.
_FAILURES = (TwilioException, requests.RequestException, ValueError)


@dataclass(frozen=True)
class SendResult:
    """What Twilio answered to an accepted message."""

    sid: str
    status: str


@dataclass(frozen=True)
class AvailableNumber:
    """A number Twilio offers for sale."""

    e164: str
    locality: str
    region: str


@dataclass(frozen=True)
class OwnedNumber:
    """A number the account owns, with where Twilio sends its incoming texts."""

    sid: str
    e164: str
    sms_url: str
    sms_method: str
    sms_application_sid: str = ""


@dataclass(frozen=True)
class Alert:
    """One of Twilio's debugger alerts (never its text: that can quote a webhook's form)."""

    error_code: str
    request_url: str
    created_at: datetime | None


class SendError(Exception):
    """A Twilio call failed; the flags tell the caller whether to retry."""

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
    ) -> None:
        """Keep the reason short and free of message bodies and phone numbers."""
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.http_status = http_status
        # Mutually exclusive: retryable means safe to resend, ambiguous means it may have gone.
        self.retryable = retryable
        self.ambiguous = ambiguous

    def __repr__(self) -> str:
        """Show the fields that matter when debugging."""
        return (
            f"SendError({self.reason!r}, code={self.code}, http_status={self.http_status},"
            f" retryable={self.retryable}, ambiguous={self.ambiguous})"
        )


class _RebasedHttpClient(TwilioHttpClient):
    """A Twilio HTTP client that sends *.twilio.com requests to another base URL."""

    def __init__(self, base_url: str, timeout: float) -> None:
        """Remember the base URL (scheme, host, optional path prefix)."""
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url.rstrip("/"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Rewrite the URL, then make the request as usual."""
        return super().request(method, self._rebase(url), *args, **kwargs)

    def _rebase(self, url: str) -> str:
        """Swap a Twilio host (api., messaging., regional edges) for the base URL."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "https" or not (host == "twilio.com" or host.endswith(".twilio.com")):
            return url
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))


class TwilioGateway:
    """Send and manage messages through one Twilio account."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Build the Twilio client; api_base_url points it at a fake or a proxy."""
        self.account_sid = account_sid
        # Twilio's media URLs need the account's credentials (HTTP basic auth for media).
        self.media_auth = (account_sid, auth_token)
        if api_base_url:
            http_client: TwilioHttpClient = _RebasedHttpClient(api_base_url, timeout)
        else:
            http_client = TwilioHttpClient(timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=http_client)

    def send_message(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        status_callback: str | None = None,
        media_urls: list[str] | None = None,
    ) -> SendResult:
        """Hand one message to Twilio; raise SendError saying whether a resend is safe."""
        kwargs: dict[str, Any] = {"from_": from_, "to": to}
        if body:
            kwargs["body"] = body
        if status_callback:
            kwargs["status_callback"] = status_callback
        if media_urls:
            kwargs["media_url"] = media_urls
        try:
            message = self._client.messages.create(**kwargs)
        except _FAILURES as exc:
            error = _to_send_error(exc)
            log.warning(
                "twilio send failed code=%s http=%s retryable=%s ambiguous=%s",
                error.code,
                error.http_status,
                error.retryable,
                error.ambiguous,
            )
            raise error from exc
        log.info("twilio send accepted sid=%s status=%s", message.sid, message.status)
        return SendResult(sid=message.sid, status=message.status)

    def fetch_message_status(self, sid: str) -> str:
        """Ask Twilio for a message's current status (e.g. when a callback went missing)."""
        try:
            return self._client.messages(sid).fetch().status
        except _FAILURES as exc:
            raise _to_send_error(exc) from exc

    def delete_message(self, sid: str) -> None:
        """Delete a message (body and metadata) at Twilio; an unknown SID is already gone."""
        self._delete(self._client.messages(sid), sid)

    def delete_media(self, media_url: str) -> None:
        """Delete one inbound media file at Twilio; a missing one is already gone."""
        # Only the SIDs are taken from the URL: the DELETE always goes to Twilio's API, so a
        # forged URL can never carry our credentials to another host.
        match = _MEDIA_PATH.search(urlsplit(media_url).path)
        if not match:
            raise SendError("not a Twilio media URL")
        account_sid, message_sid, media_sid = match.groups()
        account = self._client.api.v2010.accounts(account_sid)
        self._delete(account.messages(message_sid).media(media_sid), media_sid)

    def _delete(self, resource: Any, sid: str) -> None:
        """Delete a resource context, treating 404 as success."""
        try:
            resource.delete()
        except _FAILURES as exc:
            error = _to_send_error(exc)
            if error.http_status == 404:
                log.info("twilio delete: already gone sid=%s", sid)
                return
            log.warning("twilio delete failed sid=%s code=%s", sid, error.code)
            raise error from exc
        log.info("twilio deleted sid=%s", sid)

    def search_local_numbers(self, area_code: str, limit: int = 20) -> list[AvailableNumber]:
        """US local numbers for sale in an area code that can send and receive SMS and MMS."""
        found = self._ask(
            "number search",
            lambda: self._client.available_phone_numbers("US").local.list(
                area_code=area_code, sms_enabled=True, mms_enabled=True, limit=limit
            ),
        )
        return [AvailableNumber(n.phone_number, n.locality or "", n.region or "") for n in found]

    def buy_number(self, e164: str, sms_url: str) -> OwnedNumber:
        """Buy a number with its incoming texts pointed at sms_url."""
        bought = self._ask(
            "number purchase",
            lambda: self._client.incoming_phone_numbers.create(
                phone_number=e164, sms_url=sms_url, sms_method="POST", sms_fallback_url=""
            ),
        )
        log.info("twilio number bought sid=%s", bought.sid)
        return _owned(bought)

    def list_numbers(self) -> list[OwnedNumber]:
        """The numbers this account owns (never filtered by number: the twilio client logs query strings)."""
        found = self._ask("number list", lambda: self._client.incoming_phone_numbers.list())
        return [_owned(n) for n in found]

    def fetch_number(self, sid: str) -> OwnedNumber:
        """One owned number as Twilio has it configured now."""
        return _owned(self._ask("number fetch", lambda: self._client.incoming_phone_numbers(sid).fetch()))

    def point_number(self, sid: str, sms_url: str) -> OwnedNumber:
        """Send a number's incoming texts to sms_url by POST (no fallback, no TwiML app in between)."""
        updated = self._ask(
            "number update",
            lambda: self._client.incoming_phone_numbers(sid).update(
                sms_url=sms_url, sms_method="POST", sms_fallback_url="", sms_application_sid=""
            ),
        )
        log.info("twilio number pointed sid=%s", sid)
        return _owned(updated)

    def webhook_alerts(self, since: datetime) -> list[Alert]:
        """Twilio's recent error alerts (the debugger), newest first."""
        found = self._ask(
            "alert list",
            lambda: self._client.monitor.v1.alerts.list(log_level="error", start_date=since, limit=100),
        )
        return [Alert(str(a.error_code or ""), a.request_url or "", a.date_created) for a in found]

    def _ask(self, action: str, call: Callable[[], T]) -> T:
        """Make one account call; a failure becomes a SendError with a plain reason."""
        try:
            return call()
        except _FAILURES as exc:
            error = _to_send_error(exc)
            log.warning("twilio %s failed code=%s http=%s", action, error.code, error.http_status)
            raise error from exc


def _owned(number: Any) -> OwnedNumber:
    """An OwnedNumber from the twilio client's IncomingPhoneNumber."""
    return OwnedNumber(
        sid=number.sid,
        e164=number.phone_number,
        sms_url=number.sms_url or "",
        sms_method=(number.sms_method or "").upper(),
        sms_application_sid=number.sms_application_sid or "",
    )


def _to_send_error(exc: Exception) -> SendError:
    """Classify any failure of a Twilio call as retryable, ambiguous, or final."""
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        return _http_error(exc.status, exc.code)
    if isinstance(exc, TwilioException) and len(exc.args) > 1 and isinstance(exc.args[1], Response):
        # A list call's page that did not answer 200 ("Unable to fetch page", response).
        return _http_error(exc.args[1].status_code, _error_code(exc.args[1].text))
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        # Nothing was sent; an SSL failure (bad certificate) will not fix itself.
        ssl = isinstance(exc, requests.exceptions.SSLError)
        return SendError("TLS failure" if ssl else "connect timeout", retryable=not ssl)
    if isinstance(exc, requests.ConnectionError) and _failed_before_sending(exc):
        return SendError("could not connect to Twilio", retryable=True)
    if isinstance(exc, (requests.RequestException, ValueError)):
        # A read timeout, a dropped connection or an unreadable answer: Twilio may have the
        # message already, so a blind resend could text the person twice.
        return SendError(f"no clear answer from Twilio ({type(exc).__name__})", ambiguous=True)
    return SendError(f"Twilio client error ({type(exc).__name__})")


def _http_error(status: int, code: int | None) -> SendError:
    """Build a SendError from Twilio's HTTP status and error code."""
    # twilio-python puts the HTTP status in `code` when the body has no Twilio code.
    code = code if code and code != status else None
    reason = REASONS.get(code or 0, f"Twilio answered HTTP {status}")
    # A gateway timeout means a proxy gave up waiting: Twilio may have accepted the message.
    ambiguous = status in (502, 504)
    retryable = not ambiguous and (status == 429 or status >= 500)
    return SendError(reason, code=code, http_status=status, retryable=retryable, ambiguous=ambiguous)


def _error_code(body: str) -> int | None:
    """The Twilio error code in a JSON error body, if there is one."""
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _failed_before_sending(exc: requests.ConnectionError) -> bool:
    """Tell a refused/unresolvable connection from one dropped after the request went out."""
    # requests wraps urllib3's MaxRetryError(reason=NewConnectionError) for refused and DNS
    # failures (NameResolutionError is a subclass); a drop mid-exchange is a ProtocolError.
    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", None), NewConnectionError)
