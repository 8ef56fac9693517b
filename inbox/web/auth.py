"""Staff login: argon2 passwords, server-side sessions, throttling and automatic logoff."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
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
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from inbox.common import audit
from inbox.common.concurrency import run_cpu
from inbox.extensions import db, login_manager
from inbox.models import AuditEvent, StaffSession, User, utcnow

bp = Blueprint("auth", __name__)
_hasher = PasswordHasher()
# Verifying against this keeps the answer time the same whether or not the email exists.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
SEEN_WRITE_EVERY = timedelta(seconds=30)


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


def _recent_failures(**where) -> int:
    """Failed logins in the throttle window matching `where` (user or address)."""
    since = utcnow() - THROTTLE_WINDOW
    query = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "login.failed", AuditEvent.created_at >= since
    )
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return db.session.scalar(query)


def admin_required(view):
    """Only a practice admin may use this view."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def end_session(staff_session: StaffSession, reason: str) -> None:
    """Close a server-side session and disconnect its sockets."""
    from inbox.realtime import disconnect_session

    staff_session.ended_at = utcnow()
    audit.record(
        f"logout.{reason}",
        staff_session.user,
        practice_id=staff_session.user.practice_id,
        user_id=staff_session.user_id,
    )
    disconnect_session(staff_session.token)


def end_idle_sessions(now=None) -> int:
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


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the user only through a live, non-idle server-side session."""
    token = session.get("sid")
    if not token:
        return None
    staff_session = db.session.scalar(select(StaffSession).where(StaffSession.token == token))
    if (
        staff_session is None
        or staff_session.ended_at is not None
        or str(staff_session.user_id) != user_id
        or not staff_session.user.active
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


@login_manager.unauthorized_handler
def unauthorized():
    """JSON callers get 401; pages go to the login form."""
    if request.path.startswith("/api/"):
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.path))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and log staff in."""
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        ip = request.remote_addr
        user = db.session.scalar(select(User).where(User.email == email))
        throttled = _recent_failures(ip=ip) >= MAX_FAILURES_PER_ADDRESS or (
            user is not None
            and _recent_failures(target_type="users", target_id=user.id) >= MAX_FAILURES_PER_ACCOUNT
        )
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if throttled:
            audit.record("login.throttled", user, user_id=user.id if user else None)
            db.session.commit()
            flash("Too many failed attempts. Wait 15 minutes and try again.", "error")
            return render_template("login.html", form=form), 429
        if not ok or user is None or not user.active:
            audit.record("login.failed", user, user_id=user.id if user else None)
            db.session.commit()
            flash("Email or password is not right.", "error")
            return render_template("login.html", form=form), 401
        staff_session = StaffSession(token=secrets.token_urlsafe(32), user=user, ip=ip)
        db.session.add(staff_session)
        audit.record("login", user, user_id=user.id)
        db.session.commit()
        session.clear()  # a fresh session on login: no fixation
        session["sid"] = staff_session.token
        session.permanent = True
        login_user(user)
        target = request.args.get("next", "")
        # Only local paths: an open redirect would send staff to a look-alike page.
        if not target.startswith("/") or target.startswith("//") or "\\" in target or urlsplit(target).netloc:
            target = url_for("views.inbox")
        return redirect(target)
    return render_template("login.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
def logout():
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


def init_app(app) -> None:
    """Register the blueprint and session lifetime."""
    app.permanent_session_lifetime = timedelta(minutes=app.config["INBOX_IDLE_MINUTES"])
    login_manager.session_protection = None  # the server-side session is the protection
    app.register_blueprint(bp)
