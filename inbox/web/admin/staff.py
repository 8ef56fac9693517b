"""Staff management for admins: add people, change roles, deactivate and reactivate, reset passwords.

Deactivating someone, or resetting their password, ends their logins and drops their live sockets at
once (server-side sessions: `auth.end_session`). A reset also removes their two-factor enrolment: the
usual reason is a lost phone as much as a forgotten password, and the new holder enrols again. A practice always keeps at least one active admin,
and nobody can lock themselves out from here.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from inbox.common import audit, two_factor
from inbox.extensions import db
from inbox.models import StaffSession, User
from inbox.notify import subscriptions as push_subscriptions
from inbox.web.auth import admin_required, end_session, hash_password

bp = Blueprint("staff", __name__, url_prefix="/admin/staff")
ROLES = [("staff", "Intake coordinator"), ("admin", "Practice admin")]


class StaffForm(FlaskForm):
    """A new staff member."""

    first_name = StringField("First name", validators=[DataRequired("Enter a first name."), Length(max=100)])
    last_name = StringField("Last name", validators=[Length(max=100)])
    email = EmailField(
        "Email", validators=[DataRequired("Enter an email."), Email("Enter a valid email."), Length(max=254)]
    )
    role = SelectField("Role", choices=[SelectChoice(value, label) for value, label in ROLES])


class StaffError(ValueError):
    """A staff change that would break a rule (said in words for the admin)."""


def temporary_password() -> str:
    """A one-time password the admin passes on; it is shown once and stored only as a hash."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def add_staff(practice_id: int, email: str, first_name: str, last_name: str, role: str) -> tuple[User, str]:
    """Create a staff member with a temporary password; returns both (caller commits)."""
    email = email.strip().lower()
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise StaffError("Someone already has an account with that email.")
    password = temporary_password()
    user = User(
        practice_id=practice_id,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        role=role,
        password_hash=hash_password(password),
        must_change_password=True,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("staff.create", user, role=role)
    return user, password


def _active_admins(practice_id: int) -> int:
    """How many active admins the practice has."""
    return db.session.execute(  # a count: one row, always
        select(func.count(User.id)).where(
            User.practice_id == practice_id, User.role == "admin", User.active.is_(True)
        )
    ).scalar_one()


def end_logins(user: User, reason: str) -> int:
    """End every live login of a user and drop their sockets; returns how many ended."""
    live = db.session.scalars(
        select(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
    ).all()
    for staff_session in live:
        end_session(staff_session, reason)
    return len(live)


def change(user: User, actor: User, *, role: str | None = None, active: bool | None = None) -> None:
    """Change a role or deactivate/reactivate, keeping an active admin and the actor's own access."""
    if user.id == actor.id:
        raise StaffError("You cannot change your own role or deactivate yourself.")
    losing_admin = user.role == "admin" and user.active and (role == "staff" or active is False)
    if losing_admin and _active_admins(user.practice_id) <= 1:
        raise StaffError("The practice needs at least one active admin.")
    if role is not None and role != user.role:
        audit.record("staff.role", user, old=user.role, new=role)
        user.role = role
    if active is not None and active != user.active:
        user.active = active
        audit.record("staff.activate" if active else "staff.deactivate", user)
        if not active:
            end_logins(user, "deactivated")
            push_subscriptions.remove_all(user, "deactivated")  # nothing more reaches their browsers


def reset_password(user: User) -> str:
    """A new temporary password; the old one and every login using it stop working now."""
    password = temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    end_logins(user, "password_reset")
    audit.record("staff.password_reset", user)
    two_factor.remove(user, "two_factor.reset")
    return password


def _member_or_404(user_id: int) -> User:
    """A staff member of the admin's own practice."""
    user = db.session.get(User, user_id)
    if user is None or user.practice_id != current_user.practice_id:
        abort(404)
    return user


def _page(form: StaffForm, issued: tuple[User, str] | None = None) -> tuple[str, int]:
    """The staff list; a just-issued temporary password is shown in this answer only (never in a cookie)."""
    people = db.session.scalars(
        select(User)
        .where(User.practice_id == current_user.practice_id)
        .order_by(User.active.desc(), User.first_name, User.email)
    ).all()
    status = 400 if form.errors else 200
    enrolled = two_factor.enrolled_ids(current_user.practice_id)
    return render_template(
        "admin/staff.html", form=form, people=people, roles=ROLES, issued=issued, enrolled=enrolled
    ), status


@bp.route("", methods=["GET", "POST"])
@admin_required
def index() -> ResponseReturnValue:
    """The practice's staff, and the form to add someone."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            issued = add_staff(
                current_user.practice_id,
                form.email.data,
                form.first_name.data,
                form.last_name.data,
                form.role.data,
            )
        except StaffError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            return _page(StaffForm(formdata=None), issued)
    return _page(form)


@bp.post("/<int:user_id>")
@admin_required
def update(user_id: int) -> ResponseReturnValue:
    """Change a role, deactivate, reactivate, or reset a password."""
    user = _member_or_404(user_id)
    action = request.form.get("action")
    try:
        if action == "role" and request.form.get("role") in dict(ROLES):
            change(user, current_user, role=request.form["role"])
        elif action in ("deactivate", "reactivate"):
            change(user, current_user, active=action == "reactivate")
        elif action == "reset_password" and user.id != current_user.id:
            password = reset_password(user)
            db.session.commit()
            return _page(StaffForm(formdata=None), (user, password))
        else:
            abort(400)
    except StaffError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.index"))
    db.session.commit()
    flash("Saved.", "info")
    return redirect(url_for("staff.index"))
