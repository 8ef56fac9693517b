"""Staff login: argon2 passwords, server-side sessions, throttling and automatic logoff.

The throttle (docs/deploy.md, "Login throttle") reserves each attempt before the password is checked,
so simultaneous guesses cannot outrun it: a hard limit per address, and per account (the email as typed,
whether or not anyone has it) a few attempts at once, then a growing wait between attempts. A browser
the person logged in from before carries a signed known-device cookie and has a budget of its own, so
guesses from elsewhere never lock the person out of their own computer.

Every attempt costs the same whether or not the email is someone's (docs/deploy.md, "Every attempt
costs the same"): the same reservations under the same keys, and one argon2 check at today's
parameters, against a dummy hash when there is no account or it is deactivated.

A login with a second factor (docs/deploy.md, "Two-factor login") is two steps. The right password
makes a server-side session that still owes a step (`StaffSession.pending_step`: the code, or an
enrolment the practice requires); such a session loads no user, so it counts as logged in nowhere. Its
own step's page is the one thing it opens: other pages redirect there, the API answers 403 naming the
step (`next`), and no socket connects. The code step is throttled exactly like the password.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec
from urllib.parse import urlsplit

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from inbox.common import audit, throttle, two_factor
from inbox.common.concurrency import run_cpu
from inbox.extensions import db, login_manager
from inbox.models import StaffSession, User, utcnow
from inbox.realtime import disconnect_session
from inbox.vocabulary import LoginStep

bp = Blueprint("auth", __name__)
_hasher = PasswordHasher()
# Checked instead of an account's hash when there is no account (or it is deactivated): made once per
# process by the same hasher, so it costs what checking a real password costs.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
SEEN_WRITE_EVERY = timedelta(seconds=30)
# Per address: a hard limit of failed attempts per window.
ADDRESS_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 20
# Per account, and per known device: this many at once, then these waits between attempts (the last
# repeats); an hour without attempts starts afresh, and so does the right password.
FREE_ATTEMPTS = 5
DELAYS = tuple(timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 900))
QUIET = timedelta(hours=1)
DEVICE_COOKIE = "inbox_device"
DEVICE_DAYS = 180
# The same words and status for every refusal, whoever and whatever the email.
THROTTLED = "Too many attempts. Wait a few minutes and try again."
# A login that still owes a step after its password lasts this long, then starts over at the password.
PENDING_FOR = timedelta(minutes=10)
# Where each step is taken, and what the API says to a session that still owes it.
STEP_PAGES = {LoginStep.SECOND_FACTOR: "two_factor.code", LoginStep.ENROL: "two_factor.manage"}
STEP_REASONS = {
    LoginStep.SECOND_FACTOR: "enter the code from your authenticator app first",
    LoginStep.ENROL: "set up two-factor login first",
}


class LoginForm(FlaskForm):
    """Email and password, with Flask-WTF's CSRF token."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def hash_password(password: str) -> str:
    """argon2id hash, computed in a real thread so the event loop keeps serving."""
    return run_cpu(_hasher.hash, password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Check a password against its argon2 hash off the event loop."""
    try:
        return run_cpu(_hasher.verify, stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _cheaper_than_today(stored_hash: str) -> bool:
    """Whether checking this hash costs less than one at today's parameters (made by an older release
    or by hand, or not an argon2 hash at all, which fails at once)."""
    try:
        made = extract_parameters(stored_hash)
    except InvalidHashError:
        return True
    return made.time_cost * made.memory_cost < _hasher.time_cost * _hasher.memory_cost


def check_login(user: User | None, password: str) -> bool:
    """Whether the password logs this user in, at one cost for everyone who asks: an unknown email and
    a deactivated account are checked against the dummy hash, and a wrong password against a hash
    cheaper than today's is topped up with the dummy check, so no answer comes back sooner."""
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return False
    if verify_password(user.password_hash, password):
        return True
    if _cheaper_than_today(user.password_hash):
        verify_password(_DUMMY_HASH, password)
    return False


def _digest(kind: str, value: str, step: str = "login") -> str:
    """A throttle key that names no email or address in the database: an HMAC under SECRET_KEY.
    `step` keeps the password's counters ("login") apart from the second factor's ("code")."""
    key = current_app.config["SECRET_KEY"].encode()
    return f"{step}.{kind}:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:40]


def address_key(ip: str | None, step: str = "login") -> str:
    """The per-address counter; an IPv6 client counts by its /64, which one subscriber usually holds."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return _digest("address", ip or "-", step)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return _digest("address", str(address.ipv4_mapped), step)
        return _digest("address", str(ipaddress.ip_network(f"{address}/64", strict=False)), step)
    return _digest("address", str(address), step)


def account_key(email: str, step: str = "login") -> str:
    """The per-account counter: the email as typed, so an unknown email is throttled like a known one."""
    return _digest("account", email, step)


def _devices() -> URLSafeTimedSerializer:
    """Signs the known-device cookie."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def known_device(user: User | None) -> str | None:
    """The device id of this browser's signed cookie, if `user` logged in from it before."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:  # read whether or not the email is someone's: the same work for every attempt
        data = _devices().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if user is None or not isinstance(data, dict) or data.get("u") != user.id:
        return None
    if not isinstance(data.get("d"), str):
        return None
    return data["d"]


def remember_device(response: WerkzeugResponse, user: User, device: str | None) -> None:
    """After a successful login: this browser is a known device of the user (path /login only)."""
    value = _devices().dumps({"u": user.id, "d": device or secrets.token_hex(16)})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_DAYS * 86400,
        path=url_for("auth.login"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def reserve_attempt(
    email: str, user: User | None, step: str = "login"
) -> tuple[throttle.Taken, list[str], str | None]:
    """Reserve this attempt (at the password, or at the code: `step`) before any check; returns the
    verdict, the keys that were taken (given back or reset on success) and the known device, if any."""
    device = known_device(user)
    if device is not None:
        # The person's own browser: its own budget, untouched by guesses from anywhere else.
        key = _digest("device", device, step)
        return throttle.take_delayed(key, FREE_ATTEMPTS, DELAYS, QUIET), [key], device
    by_address = address_key(request.remote_addr, step)
    taken = throttle.take_limited(by_address, MAX_FAILURES_PER_ADDRESS, ADDRESS_WINDOW)
    if not taken.ok:
        return taken, [], None
    by_account = account_key(email, step)
    taken = throttle.take_delayed(by_account, FREE_ATTEMPTS, DELAYS, QUIET)
    return taken, [by_address, by_account], None


def succeeded(keys: list[str]) -> None:
    """The right password (or code): the address's reserved attempt was no failure; the account starts
    afresh."""
    for key in keys:
        if ".address:" in key:
            throttle.give_back(key)
        else:
            throttle.reset(key)


@dataclass(frozen=True)
class Rechecked:
    """What a secret asked again of a logged-in person came to: right, wrong, or not checked at all
    because the throttle holds (then `retry_after` is the seconds to wait, at least 1)."""

    right: bool
    retry_after: int = 0


def _recheck(user: User, step: str, secret: str, check: Callable[[], bool]) -> Rechecked:
    """Reserve the attempt on `step`'s counters, then check; the verdict is audited by `secret`'s name."""
    taken, keys, _device = reserve_attempt(user.email, user, step=step)
    if not taken.ok:
        audit.sampled("recheck.throttled", user, user_id=user.id, secret=secret)
        db.session.commit()
        return Rechecked(False, taken.retry_after)
    if not check():
        audit.record("recheck.failed", user, user_id=user.id, secret=secret)
        db.session.commit()
        return Rechecked(False)
    succeeded(keys)
    return Rechecked(True)


def recheck_password(user: User, password: str) -> Rechecked:
    """The password asked again of a logged-in person (to change it, renew recovery codes or turn
    two-factor off), on the login's own counters: it is the same secret, so a stolen session gets no
    more guesses at it here than at the login form. Reserve before any work of the caller is pending."""
    return _recheck(user, "login", "password", lambda: check_login(user, password))


def recheck_code(user: User, code: str) -> Rechecked:
    """A current code from the app, or a recovery code (spent if right), asked of a logged-in person,
    on the login code step's counters."""
    return _recheck(user, "code", "code", lambda: two_factor.check(user, code) is not None)


P = ParamSpec("P")  # a wrapped view's parameters


def admin_required(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Only a practice admin may use this view."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def end_session(staff_session: StaffSession, reason: str) -> None:
    """Close a server-side session and disconnect its sockets."""
    staff_session.ended_at = utcnow()
    audit.record(
        f"logout.{reason}",
        staff_session.user,
        practice_id=staff_session.user.practice_id,
        user_id=staff_session.user_id,
    )
    disconnect_session(staff_session.token)


def end_idle_sessions(now: datetime | None = None) -> int:
    """Automatic logoff for logins nobody used for the idle period, even with a tab left open."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=current_app.config["INBOX_IDLE_MINUTES"])
    idle = db.session.scalars(
        select(StaffSession).where(StaffSession.ended_at.is_(None), StaffSession.last_seen_at < cutoff)
    ).all()
    for staff_session in idle:
        end_session(staff_session, "idle")
    db.session.commit()
    return len(idle)


def _browser_login() -> StaffSession | None:
    """The live (not ended) server-side session of this browser's cookie, of an active user."""
    token = session.get("sid")
    if not token:
        return None
    staff_session = db.session.scalar(select(StaffSession).where(StaffSession.token == token))
    if staff_session is None or staff_session.ended_at is not None or not staff_session.user.active:
        return None
    return staff_session


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the user only through a live, non-idle server-side session."""
    staff_session = _browser_login()
    if (
        staff_session is None
        or str(staff_session.user_id) != user_id
        or staff_session.pending_step is not None  # password only: not logged in, anywhere
    ):
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["INBOX_IDLE_MINUTES"])
    if now - staff_session.last_seen_at > idle:
        end_session(staff_session, "idle")
        db.session.commit()
        session.clear()
        return None
    if now - staff_session.last_seen_at > SEEN_WRITE_EVERY:
        staff_session.last_seen_at = now
        db.session.commit()
    return staff_session.user


def pending_login(step: LoginStep | None = None) -> StaffSession | None:
    """This browser's login that passed its password and still owes a step (`step`, or any), while
    it may still take it; None otherwise."""
    staff_session = _browser_login()
    if (
        staff_session is None
        or staff_session.pending_step is None
        or (step is not None and staff_session.pending_step != step)
        or utcnow() - staff_session.created_at > PENDING_FOR
    ):
        return None
    return staff_session


@login_manager.unauthorized_handler
def unauthorized() -> ResponseReturnValue:
    """A login owing a step goes to that step (API: 403 naming it); otherwise JSON callers get 401 and
    pages go to the login form."""
    pending = pending_login()
    if pending is not None:
        step = LoginStep(pending.pending_step or "")  # pending_login returns owing sessions only
        page = url_for(STEP_PAGES[step])
        if request.path.startswith("/api/"):
            return jsonify(error=STEP_REASONS[step], next=page), 403
        return redirect(page)
    if request.path.startswith("/api/"):
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.path))


def _safe_target(target: str) -> str:
    """Only local paths: an open redirect would send staff to a look-alike page."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or urlsplit(target).netloc:
        return url_for("views.inbox")
    return target


def finish_login(staff_session: StaffSession) -> str:
    """Every step is done: the session loads its user from now on. Returns where the person was going.

    The token is new too, so a copy of the cookie taken while only the password was done opens nothing."""
    staff_session.pending_step = None
    staff_session.token = secrets.token_urlsafe(32)
    db.session.commit()
    session["sid"] = staff_session.token
    login_user(staff_session.user)
    return _safe_target(session.pop("next", ""))


def complete_login(staff_session: StaffSession, device: str | None) -> WerkzeugResponse:
    """Finish the login and go on; the browser becomes a known device only now, after the last step."""
    response = redirect(finish_login(staff_session))
    remember_device(response, staff_session.user, device)
    return response


def step_after_password(user: User) -> LoginStep | None:
    """What a login still owes once the password is right: a code, an enrolment, or nothing."""
    if two_factor.is_enrolled(user):
        return LoginStep.SECOND_FACTOR
    if user.practice.require_two_factor:
        return LoginStep.ENROL
    return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form and log staff in."""
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        ip = request.remote_addr
        user = db.session.scalar(select(User).where(User.email == email))
        taken, keys, device = reserve_attempt(email, user)
        if not taken.ok:
            # No password check at all, for a known or an unknown email alike; the evidence is sampled.
            audit.sampled("login.throttled", user, user_id=user.id if user else None)
            db.session.commit()
            flash(THROTTLED, "error")
            headers = {"Retry-After": str(taken.retry_after)}
            return render_template("login.html", form=form), 429, headers
        # check_login never lets no account in; the second test only tells the type checker so.
        if not check_login(user, form.password.data) or user is None:
            audit.record("login.failed", user, user_id=user.id if user else None)
            db.session.commit()
            flash("Email or password is not right.", "error")
            return render_template("login.html", form=form), 401
        succeeded(keys)
        step = step_after_password(user)
        staff_session = StaffSession(token=secrets.token_urlsafe(32), user=user, ip=ip, pending_step=step)
        db.session.add(staff_session)
        if step is None:
            audit.record("login", user, user_id=user.id)
        else:
            audit.record("login", user, user_id=user.id, pending=str(step))  # the password step of two
        db.session.commit()
        session.clear()  # a fresh session on login: no fixation
        session["sid"] = staff_session.token
        session["next"] = request.args.get("next", "")
        session.permanent = True
        if step is not None:
            return redirect(url_for(STEP_PAGES[step]))
        return complete_login(staff_session, device)
    return render_template("login.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """End the server-side session, so the cookie is worthless even if copied."""
    token = session.get("sid")
    if token:
        staff_session = db.session.scalar(select(StaffSession).where(StaffSession.token == token))
        if staff_session is not None and staff_session.ended_at is None:
            end_session(staff_session, "manual")
            db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Register the blueprint and session lifetime."""
    app.permanent_session_lifetime = timedelta(minutes=app.config["INBOX_IDLE_MINUTES"])
    login_manager.session_protection = None  # the server-side session is the protection
    app.register_blueprint(bp)
