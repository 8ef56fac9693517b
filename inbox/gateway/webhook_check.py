"""The texting number's webhook check: can Twilio deliver a number's texts to this app?

Three parts, each an OK or a problem in one plain sentence: Twilio's setting for the number, a probe of
INBOX_PUBLIC_URL signed exactly as Twilio signs (answered by POST /twilio/check through probe_answer), and
Twilio's recent delivery alerts. Every check is audited as number.check; last_checks reads them back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import requests
from flask import Response, current_app, jsonify
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from inbox.common import audit
from inbox.extensions import db
from inbox.gateway.rest import OwnedNumber, SendError

if TYPE_CHECKING:
    from inbox.gateway import Gateway
from inbox.models import AuditEvent, PracticeNumber, utcnow

WEBHOOK_PATH = "/twilio/messages"
CHECK_PATH = "/twilio/check"
PROBE_TIMEOUT = 10.0  # Twilio itself waits 15 seconds for a webhook's answer
ALERT_WINDOW = timedelta(hours=24)
CHECK_LABELS = {"twilio": "Twilio's setting", "reach": "reaching the app", "alerts": "Twilio's alerts"}


@dataclass(frozen=True)
class CheckResult:
    """One part of the webhook check: ok or a problem, said in one plain sentence."""

    name: str
    ok: bool
    message: str


def webhook_url() -> str:
    """Where Twilio must send the practice numbers' incoming texts."""
    return current_app.config["INBOX_PUBLIC_URL"] + WEBHOOK_PATH


def check_webhook(
    gw: Gateway, number: PracticeNumber, http: requests.Session | None = None
) -> list[CheckResult]:
    """Can Twilio deliver this number's texts to this app? Ask Twilio, then try the way ourselves."""
    if current_app.config["INBOX_SIMULATOR"]:
        results = [
            CheckResult(
                "simulator",
                True,
                "Simulator mode: there is no Twilio account to check. Texts to this number come from the "
                "phone simulator, through the same signed webhook.",
            )
        ]
    else:
        results = [_twilio_setting(gw, number), _probe(http or requests.Session()), _alerts(gw)]
    problems = [r.name for r in results if not r.ok]
    audit.record("number.check", number, ok=not problems, problems=problems)
    db.session.commit()
    return results


def _twilio_setting(gw: Gateway, number: PracticeNumber) -> CheckResult:
    """Does Twilio send this number's texts to our webhook URL, by POST?"""
    expected = webhook_url()
    missing = CheckResult(
        "twilio",
        False,
        "This number is not in the Twilio account this app uses (TWILIO_ACCOUNT_SID). "
        "Move it into that account, or attach it again from the account's list.",
    )
    try:
        owned = gw.fetch_number(number.twilio_sid) if number.twilio_sid else _find(gw, number.e164)
    except SendError as exc:
        if exc.http_status == 404:
            return missing
        return CheckResult("twilio", False, f"Could not ask Twilio how this number is set up: {exc.reason}")
    if owned is None:
        return missing
    number.twilio_sid = owned.sid  # found by its number: remember the SID for next time
    if owned.sms_application_sid:
        return CheckResult(
            "twilio",
            False,
            f"Twilio hands this number's texts to the TwiML app {owned.sms_application_sid}, not to "
            f"{expected}. Use “Point it here” to fix it.",
        )
    if owned.sms_url != expected:
        where = owned.sms_url or "nowhere (no URL is set)"
        return CheckResult(
            "twilio",
            False,
            f"Twilio sends this number's texts to {where}, not to {expected}. Use “Point it here” to fix it.",
        )
    if owned.sms_method != "POST":
        return CheckResult(
            "twilio",
            False,
            f"Twilio sends this number's texts with HTTP {owned.sms_method}; the app takes them by POST. "
            "Use “Point it here” to fix it.",
        )
    return CheckResult("twilio", True, f"Twilio sends this number's texts to {expected} by POST.")


def _find(gw: Gateway, e164: str) -> OwnedNumber | None:
    """The account's number with this E.164, for a number set up before we kept its SID."""
    return next((owned for owned in gw.list_numbers() if owned.e164 == e164), None)


def _probe(http: requests.Session) -> CheckResult:
    """POST to our public URL signed exactly as Twilio signs, and read who answers and how."""
    config = current_app.config
    base, url = config["INBOX_PUBLIC_URL"], config["INBOX_PUBLIC_URL"] + CHECK_PATH
    nonce = secrets.token_hex(16)
    params = {"AccountSid": config["TWILIO_ACCOUNT_SID"], "Nonce": nonce}
    signature = RequestValidator(config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    # No transaction held open while we wait; and a fresh read of the audit trail afterwards.
    db.session.commit()
    sent_at = utcnow()
    try:
        answer = http.post(
            url,
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=PROBE_TIMEOUT,
            allow_redirects=False,
        )
    except requests.exceptions.SSLError:
        return _unreached(
            f"{base} has no valid TLS certificate, and Twilio only calls https addresses that do."
        )
    except requests.Timeout:
        return _unreached(
            f"Nothing answered at {url} within {PROBE_TIMEOUT:g} seconds. Twilio gives up after 15 seconds, "
            "and the text never reaches the inbox (error 11200)."
        )
    except requests.RequestException:
        return _unreached(
            f"Nothing answers at {base}: the name does not resolve or the connection is refused. "
            "Check INBOX_PUBLIC_URL, the DNS record, the firewall, and that the proxy and the app are running."
        )
    return _read_answer(answer, url, nonce, sent_at)


def _unreached(message: str) -> CheckResult:
    """The public URL could not be reached at all."""
    return CheckResult("reach", False, message)


def _read_answer(answer: requests.Response, url: str, nonce: str, sent_at: datetime) -> CheckResult:
    """Tell this app's answer from a proxy's, a firewall's, another installation's or a refusal."""
    if answer.is_redirect:
        return _unreached(
            f"{url} redirects to {answer.headers.get('Location', 'another address')}. Twilio signs the exact "
            "URL it calls, so set INBOX_PUBLIC_URL to the address that answers without a redirect."
        )
    if answer.status_code == 403:
        if _refused_here(sent_at):
            return _unreached(
                f"The probe reached this app at {url}, but the signature did not validate there, so Twilio's "
                "texts are refused too (403). The process that answered checks signatures with a different "
                "INBOX_PUBLIC_URL or TWILIO_AUTH_TOKEN than this one: give every process the same settings, "
                "and make sure the proxy passes the path and the form unchanged."
            )
        return _unreached(
            f"Something at {url} refused the probe (HTTP 403) before it reached this app: a firewall, a "
            "web application firewall rule, or the proxy's access rules. Twilio would be refused the same way."
        )
    if answer.status_code in (502, 503, 504):
        return _unreached(
            f"The proxy at {url} answered HTTP {answer.status_code}: it could not reach the app behind it. "
            "Check that the app's web processes are running and that the proxy points at them."
        )
    body = _json(answer)
    if answer.status_code == 200 and body.get("app") == "intake-inbox":
        if hmac.compare_digest(str(body.get("proof", "")), probe_proof(nonce)):
            return CheckResult(
                "reach", True, f"Twilio can reach this app at {url}, and the signature validates."
            )
        return _unreached(
            f"Another Intake Inbox installation answered at {url} (its SECRET_KEY differs from this one's). "
            "Point the proxy, or INBOX_PUBLIC_URL, at this installation."
        )
    return _unreached(
        f"Something other than this app answered at {url} (HTTP {answer.status_code}). "
        "Check that the proxy sends /twilio/ addresses to this app."
    )


def _json(answer: requests.Response) -> dict:
    """The answer's JSON object, or {} if it is not one."""
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused_here(sent_at: datetime) -> bool:
    """Did an app process on our database refuse the probe's signature (it audits every refusal)?"""
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "webhook.bad_signature",
            AuditEvent.created_at >= sent_at - timedelta(minutes=1),  # clocks of other hosts may lag
        )
    )
    return any((event.detail or {}).get("path") == CHECK_PATH for event in events)


def probe_proof(nonce: str) -> str:
    """What only this installation answers to a probe: the nonce signed with its SECRET_KEY."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"webhook-check:" + nonce.encode(), hashlib.sha256).hexdigest()


def probe_answer(nonce: str) -> Response:
    """The answer of POST /twilio/check, once its signature validated."""
    return jsonify(app="intake-inbox", proof=probe_proof(nonce))


def _alerts(gw: Gateway) -> CheckResult:
    """Has Twilio failed to deliver to our webhook lately (error 11200 in its debugger)?"""
    url = webhook_url()
    try:
        alerts = gw.webhook_alerts(utcnow() - ALERT_WINDOW)
    except SendError as exc:
        return CheckResult("alerts", False, f"Could not read Twilio's recent alerts: {exc.reason}")
    failed = [a for a in alerts if a.error_code == "11200" and a.request_url.split("?")[0] == url]
    if not failed:
        return CheckResult("alerts", True, f"Twilio reported no failed calls to {url} in the last 24 hours.")
    times = [a.created_at for a in failed if a.created_at]
    latest = f", the latest at {max(times):%Y-%m-%d %H:%M} UTC" if times else ""
    return CheckResult(
        "alerts",
        False,
        f"Twilio reported {len(failed)} failed call(s) to {url} in the last 24 hours (error 11200: no valid "
        f"answer){latest}. If the other checks pass now, those were earlier outages.",
    )


def last_checks(numbers: Sequence[PracticeNumber]) -> dict[int, AuditEvent]:
    """The latest webhook check of each number, from the audit trail."""
    if not numbers:
        return {}
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.practice_id == numbers[0].practice_id,
            AuditEvent.action == "number.check",
            AuditEvent.target_type == PracticeNumber.__tablename__,
            AuditEvent.target_id.in_([n.id for n in numbers]),
        )
        .order_by(AuditEvent.id)
    )
    since = {n.id: n.created_at for n in numbers}
    # A detached number's id can come back (SQLite reuses the highest rowid): only its own checks count.
    # target_id is always set here (the query filters on it); the test only narrows its type.
    return {e.target_id: e for e in events if e.target_id is not None and e.created_at >= since[e.target_id]}
