"""Texting number setup for admins: search, buy or attach a Twilio number, or detach it.

The workflow lives in plain functions (search, buy, attach, detach); the views below only call them and
flash what happened. Every Twilio call goes through the one gateway. The webhook check, which the page
also runs and shows, lives in webhook_check.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as WerkzeugResponse

from inbox.common import audit
from inbox.common.access import number_or_404
from inbox.common.phones import InvalidNumber, pretty, to_e164
from inbox.extensions import db
from inbox.gateway import Gateway, gateway_for
from inbox.gateway.errors import NUMBER_REASONS
from inbox.gateway.rest import AvailableNumber, OwnedNumber, SendError
from inbox.gateway.webhook_check import CHECK_LABELS, check_webhook, last_checks, webhook_url
from inbox.models import Message, Practice, PracticeNumber
from inbox.web.auth import admin_required

bp = Blueprint("numbers", __name__, url_prefix="/admin")
AREA_CODE = re.compile(r"^[2-9]\d\d$")
NUMBER_SID = re.compile(r"^PN[0-9a-fA-F]{32}$")


class NumberProblem(Exception):
    """A setup step that cannot go ahead; the message tells the admin why, plainly."""


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


def search(gw: Gateway, area_code: str) -> list[AvailableNumber]:
    """US local numbers for sale in an area code, able to text and take photos."""
    area_code = area_code.strip()
    if not AREA_CODE.match(area_code):
        raise NumberProblem("Enter a three-digit US area code, such as 415.")
    try:
        return gw.search_local_numbers(area_code)
    except SendError as exc:
        raise NumberProblem(_plain(exc, "search for numbers")) from exc


def buy(gw: Gateway, practice: Practice, e164: str) -> PracticeNumber:
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


def account_numbers(gw: Gateway, practice: Practice) -> list[tuple[OwnedNumber, str]]:
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


def attach(gw: Gateway, practice: Practice, sid: str) -> PracticeNumber:
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


# -- pages -------------------------------------------------------------------------------------


def _then_back(work: Callable[[], str], **back: Any) -> WerkzeugResponse:
    """Do one step, flash its outcome (or its problem), and return to the page."""
    try:
        flash(work(), "info")
    except NumberProblem as exc:
        flash(str(exc), "error")
    return redirect(url_for("numbers.index", **back))


@bp.get("/numbers")
@admin_required
def index() -> ResponseReturnValue:
    """The practice's numbers with their webhook status; search, buy and attach."""
    practice = current_user.practice
    area_code = request.args.get("area_code", "").strip()
    offers = owned = problem = None
    try:
        if area_code:
            offers = search(gateway_for(), area_code)
        if request.args.get("owned"):
            owned = account_numbers(gateway_for(), practice)
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
def buy_view() -> ResponseReturnValue:
    """Buy the number the admin picked."""
    e164 = request.form.get("e164", "")

    def work() -> str:
        number = buy(gateway_for(), current_user.practice, e164)
        return f"{pretty(number.e164)} is the practice's now. Its texts come to this inbox."

    return _then_back(work, area_code=request.form.get("area_code") or None)


@bp.post("/numbers/attach")
@admin_required
def attach_view() -> ResponseReturnValue:
    """Attach (or re-point) a number the account owns."""

    def work() -> str:
        number = attach(gateway_for(), current_user.practice, request.form.get("sid", ""))
        return f"{pretty(number.e164)} now sends its texts to this inbox."

    return _then_back(work)


@bp.post("/numbers/<int:number_id>/check")
@admin_required
def check_view(number_id: int) -> ResponseReturnValue:
    """Run the webhook check and show each result."""
    number = number_or_404(number_id)
    for result in check_webhook(gateway_for(), number):
        flash(("OK: " if result.ok else "Problem: ") + result.message, "info" if result.ok else "error")
    return redirect(url_for("numbers.index"))


@bp.post("/numbers/<int:number_id>/detach")
@admin_required
def detach_view(number_id: int) -> ResponseReturnValue:
    """Detach a number that carried no texts."""
    number = number_or_404(number_id)
    shown = pretty(number.e164)

    def work() -> str:
        detach(number)
        return (
            f"{shown} is detached. Twilio still sends its texts here, and the app answers that the number "
            "is not set up: change it in Twilio's console, or attach it to the right practice."
        )

    return _then_back(work)
