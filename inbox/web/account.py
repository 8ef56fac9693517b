"""A staff member's own account: their password, which a temporary one forces at first use, and their
own mobile number for safety-alert escalation texts.

An admin hands out a one-time password (new staff, a reset); until its holder picks their own, every
page leads to this form, the API answers 403 and no socket connects. A change ends the person's other
logins, so a password that leaked stops working everywhere at once.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from inbox.common import audit
from inbox.extensions import db
from inbox.models import StaffSession
from inbox.texting import oncall
from inbox.web.auth import THROTTLED, end_session, hash_password, recheck_password

bp = Blueprint("account", __name__, url_prefix="/account")
# What a person who still holds a temporary password may reach.
OPEN_WHILE_TEMPORARY = {"account.change_password", "auth.logout", "auth.login", "static"}


class PasswordForm(FlaskForm):
    """Current password, and the new one twice."""

    current = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new = PasswordField(
        "New password",
        validators=[
            DataRequired("Choose a new password."),
            Length(min=12, max=200, message="Use 12 to 200 characters; a few unrelated words work well."),
        ],
    )
    confirm = PasswordField(
        "New password again", validators=[EqualTo("new", "The two new passwords differ.")]
    )


@bp.before_app_request
def temporary_password_first() -> ResponseReturnValue | None:
    """Someone holding a temporary password changes it before anything else."""
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in OPEN_WHILE_TEMPORARY
    ):
        if request.path.startswith("/api/"):
            return jsonify(
                error="change your temporary password first", next=url_for("account.change_password")
            ), 403
        return redirect(url_for("account.change_password"))
    return None


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """Change one's own password; other logins of this person end."""
    form = PasswordForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        verdict = recheck_password(user, form.current.data)  # throttled like the login
        if verdict.retry_after:
            flash(THROTTLED, "error")
            headers = {"Retry-After": str(verdict.retry_after)}
            return render_template("account_password.html", form=form), 429, headers
        if not verdict.right:
            form.current.errors = ["That is not your current password."]
        elif form.new.data == form.current.data:
            form.new.errors = ["Choose a password different from the current one."]
        else:
            user.password_hash = hash_password(form.new.data)
            user.must_change_password = False
            others = db.session.scalars(
                select(StaffSession).where(
                    StaffSession.user_id == user.id,
                    StaffSession.ended_at.is_(None),
                    StaffSession.token != session.get("sid"),
                )
            ).all()
            for other in others:
                end_session(other, "password_changed")
            audit.record("account.password_change", user, other_logins_ended=len(others))
            db.session.commit()
            flash("Your password is changed.", "info")
            return redirect(url_for("views.inbox"))
    status = 400 if form.errors else 200
    return render_template("account_password.html", form=form), status


@bp.route("/phone", methods=["GET", "POST"])
@login_required
def phone() -> ResponseReturnValue:
    """One's own mobile number, for safety-alert escalation texts (sealed; shown by its last 4 digits)."""
    user = current_user._get_current_object()
    error = None
    if request.method == "POST":
        try:
            e164 = oncall.normalise_phone(request.form.get("phone", ""), user)
        except oncall.RotaError as exc:
            error = f"Not saved: {exc}."
        else:
            if e164 is None and not request.form.get("remove"):
                error = "Enter your mobile number, or tick “Remove my number”."
            elif oncall.set_phone(user, e164):
                audit.record("account.phone", user, removed=e164 is None)
                db.session.commit()
                flash("Your number is removed." if e164 is None else "Your number is saved.", "info")
                return redirect(url_for("account.phone"))
            else:
                flash("Nothing changed.", "info")
                return redirect(url_for("account.phone"))
    on_file = oncall.masked(oncall.phone_of(user.id))
    return render_template("account_phone.html", on_file=on_file, error=error), (400 if error else 200)
