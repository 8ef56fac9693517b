"""Texting number setup for admins: buy or attach a Twilio number, and check its webhook end to end.

The workflow lives in plain functions (search, buy, attach, detach, check_webhook); the views below
only call them and flash what happened. Every Twilio call goes through the one gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator

from . import audit
from .access import _own
from .auth import admin_required
from .extensions import db
from .models import AuditEvent, Message, Practice, PracticeNumber, utcnow
from .phones import InvalidNumber, pretty, to_e164
from .twilio_gateway import AvailableNumber, OwnedNumber, SendError

bp = Blueprint("numbers", __name__, url_prefix="/admin")
WEBHOOK_PATH = "/twilio/messages"
CHECK_PATH = "/twilio/check"
PROBE_TIMEOUT = 10.0  # Twilio itself waits 15 seconds for a webhook's answer
ALERT_WINDOW = timedelta(hours=24)
AREA_CODE = re.compile(r"^[2-9]\d\d$")
NUMBER_SID = re.compile(r"^PN[0-9a-fA-F]{32}$")
CHECK_LABELS = {"twilio": "Twilio's setting", "reach": "reaching the app", "alerts": "Twilio's alerts"}

# What a failed number call means to an admin, by Twilio error code.
NUMBER_REASONS = {
    20404: "Twilio does not have this number in the account this app uses.",
    21421: "That is not a number Twilio can sell.",
    21422: "That number is no longer for sale: someone else has just bought it. Search again and pick another.",
    21452: "Twilio has no numbers for sale in that area code right now. Try a neighbouring area code.",
}


class NumberProblem(Exception):
    """A setup step that cannot go ahead; the message tells the admin why, plainly."""


@dataclass(frozen=True)
class CheckResult:
    """One part of the webhook check: ok or a problem, said in one plain sentence."""

    name: str
    ok: bool
    message: str


def webhook_url() -> str:
    """Where Twilio must send the practice numbers' incoming texts."""
    return current_app.config["INBOX_PUBLIC_URL"] + WEBHOOK_PATH


def gateway():
    """The app's one Twilio gateway (the simulator's twin in simulator mode)."""
    from .worker import make_gateway

    return make_gateway(current_app._get_current_object())


def _plain(exc: SendError, doing: str, changes: bool = False) -> str:
    """A failed Twilio call as a sentence an admin can act on."""
    if exc.code in NUMBER_REASONS:
        return NUMBER_REASONS[exc.code]
    if exc.ambiguous and changes:
        return (
            f"Twilio did not answer clearly while we tried to {doing}, so it may have happened. "
            "Look at the numbers the account owns before you try again."
        )
    return f"Twilio could not {doing}: {exc.reason}"


def _refuse_taken(e164: str, practice: Practice) -> PracticeNumber | None:
    """The practice's own record of this number, or a refusal if another practice has it."""
    number = db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == e164))
    if number is not None and number.practice_id != practice.id:
        raise NumberProblem(
            f"{pretty(e164)} is already the texting number of another practice in Intake Inbox. "
            "An admin of that practice has to detach it first."
        )
    return number


def search(gw, area_code: str) -> list[AvailableNumber]:
    """US local numbers for sale in an area code, able to text and take photos."""
    area_code = area_code.strip()
    if not AREA_CODE.match(area_code):
        raise NumberProblem("Enter a three-digit US area code, such as 415.")
    try:
        return gw.search_local_numbers(area_code)
    except SendError as exc:
        raise NumberProblem(_plain(exc, "search for numbers")) from exc


def buy(gw, practice: Practice, e164: str) -> PracticeNumber:
    """Buy a number with its texts pointed at this app, and make it the practice's."""
    try:
        e164 = to_e164(e164)
    except InvalidNumber as exc:
        raise NumberProblem("That is not a phone number.") from exc
    if _refuse_taken(e164, practice):
        raise NumberProblem(f"{pretty(e164)} is already this practice's number.")
    try:
        bought = gw.buy_number(e164, webhook_url())
    except SendError as exc:
        raise NumberProblem(_plain(exc, "buy the number", changes=True)) from exc
    number = PracticeNumber(practice_id=practice.id, e164=bought.e164, twilio_sid=bought.sid)
    db.session.add(number)
    db.session.flush()
    audit.record("number.buy", number, twilio_sid=bought.sid)
    db.session.commit()
    return number


def account_numbers(gw, practice: Practice) -> list[tuple[OwnedNumber, str]]:
    """The Twilio account's numbers, each with whose it is here: "here", "elsewhere" or ""."""
    try:
        owned = gw.list_numbers()
    except SendError as exc:
        raise NumberProblem(_plain(exc, "list the account's numbers")) from exc
    practices = dict(
        db.session.execute(
            select(PracticeNumber.e164, PracticeNumber.practice_id).where(
                PracticeNumber.e164.in_([n.e164 for n in owned])
            )
        ).all()
    )
    where = {None: "", practice.id: "here"}
    return [(n, where.get(practices.get(n.e164), "elsewhere")) for n in owned]


def attach(gw, practice: Practice, sid: str) -> PracticeNumber:
    """Make a number the account owns the practice's, pointing its texts at this app."""
    if not NUMBER_SID.match(sid):
        raise NumberProblem("Pick a number from the account's list.")
    try:
        owned = gw.fetch_number(sid)
    except SendError as exc:
        raise NumberProblem(_plain(exc, "find the number")) from exc
    number = _refuse_taken(owned.e164, practice)
    try:
        gw.point_number(sid, webhook_url())
    except SendError as exc:
        raise NumberProblem(_plain(exc, "point the number's texts at this app", changes=True)) from exc
    again = number is not None
    number = number or PracticeNumber(practice_id=practice.id, e164=owned.e164)
    number.twilio_sid = sid
    db.session.add(number)
    try:
        db.session.flush()
    except IntegrityError as exc:  # another practice attached it at the same moment
        db.session.rollback()
        raise NumberProblem(f"{pretty(owned.e164)} was just attached to another practice.") from exc
    audit.record("number.attach", number, twilio_sid=sid, again=again)
    db.session.commit()
    return number


def detach(number: PracticeNumber) -> None:
    """Forget a number that carried no texts yet (its texts' records point at it otherwise)."""
    if db.session.scalar(select(Message.id).where(Message.number_id == number.id).limit(1)):
        raise NumberProblem(f"{pretty(number.e164)} has texts in the inbox, so it stays attached.")
    audit.record("number.detach", number, twilio_sid=number.twilio_sid)
    db.session.delete(number)
    db.session.commit()


# -- the webhook check -------------------------------------------------------------------------


def check_webhook(gw, number: PracticeNumber, http: requests.Session | None = None) -> list[CheckResult]:
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


def _twilio_setting(gw, number: PracticeNumber) -> CheckResult:
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


def _find(gw, e164: str) -> OwnedNumber | None:
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


def _alerts(gw) -> CheckResult:
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


def last_checks(numbers: list[PracticeNumber]) -> dict[int, AuditEvent]:
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
    return {e.target_id: e for e in events if e.created_at >= since[e.target_id]}


# -- pages -------------------------------------------------------------------------------------


def _own_number(number_id: int) -> PracticeNumber:
    """A number of the admin's practice, or 404."""
    return _own(PracticeNumber, number_id)


def _then_back(work: Callable[[], str], **back) -> Response:
    """Do one step, flash its outcome (or its problem), and return to the page."""
    try:
        flash(work(), "info")
    except NumberProblem as exc:
        flash(str(exc), "error")
    return redirect(url_for("numbers.index", **back))


@bp.get("/numbers")
@admin_required
def index():
    """The practice's numbers with their webhook status; search, buy and attach."""
    practice = current_user.practice
    area_code = request.args.get("area_code", "").strip()
    offers = owned = problem = None
    try:
        if area_code:
            offers = search(gateway(), area_code)
        if request.args.get("owned"):
            owned = account_numbers(gateway(), practice)
    except NumberProblem as exc:
        problem = str(exc)
    numbers = db.session.scalars(
        select(PracticeNumber).where(PracticeNumber.practice_id == practice.id).order_by(PracticeNumber.id)
    ).all()
    return render_template(
        "admin/numbers.html",
        numbers=numbers,
        checks=last_checks(numbers),
        labels=CHECK_LABELS,
        offers=offers,
        owned=owned,
        problem=problem,
        area_code=area_code,
        webhook_url=webhook_url(),
        pretty=pretty,
    )


@bp.post("/numbers/buy")
@admin_required
def buy_view():
    """Buy the number the admin picked."""
    e164 = request.form.get("e164", "")

    def work() -> str:
        number = buy(gateway(), current_user.practice, e164)
        return f"{pretty(number.e164)} is the practice's now. Its texts come to this inbox."

    return _then_back(work, area_code=request.form.get("area_code") or None)


@bp.post("/numbers/attach")
@admin_required
def attach_view():
    """Attach (or re-point) a number the account owns."""

    def work() -> str:
        number = attach(gateway(), current_user.practice, request.form.get("sid", ""))
        return f"{pretty(number.e164)} now sends its texts to this inbox."

    return _then_back(work)


@bp.post("/numbers/<int:number_id>/check")
@admin_required
def check_view(number_id: int):
    """Run the webhook check and show each result."""
    number = _own_number(number_id)
    for result in check_webhook(gateway(), number):
        flash(("OK: " if result.ok else "Problem: ") + result.message, "info" if result.ok else "error")
    return redirect(url_for("numbers.index"))


@bp.post("/numbers/<int:number_id>/detach")
@admin_required
def detach_view(number_id: int):
    """Detach a number that carried no texts."""
    number = _own_number(number_id)
    shown = pretty(number.e164)

    def work() -> str:
        detach(number)
        return (
            f"{shown} is detached. Twilio still sends its texts here, and the app answers that the number "
            "is not set up: change it in Twilio's console, or attach it to the right practice."
        )

    return _then_back(work)
