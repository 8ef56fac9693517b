"""Two-factor pages: the code step of a login, and setting up, renewing or turning off one's own TOTP.

The code step serves a login that passed its password (`auth.pending_login`); it is reserved in the
throttle before the code is checked, like the password. The account page serves a full login, and also
a login that must enrol first because the practice requires two-factor: that login ends its enrolment
logged in. Recovery codes appear in the one answer that made them, never again.

Renewing the codes asks for the password again, and turning two-factor off asks for the password and a
current code (or a recovery code): a session left open, or stolen, must not be enough to remove the
second factor. Both secrets go through the login's throttle (`auth.recheck_password`, `recheck_code`),
so such a session gets no more guesses here than at the login form.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from inbox.common import audit, two_factor
from inbox.extensions import db, login_manager
from inbox.models import StaffSession, User
from inbox.vocabulary import LoginStep
from inbox.web.auth import (
    THROTTLED,
    Rechecked,
    complete_login,
    finish_login,
    known_device,
    pending_login,
    recheck_code,
    recheck_password,
    remember_device,
    reserve_attempt,
    succeeded,
)

bp = Blueprint("two_factor", __name__)
NOT_CURRENT = "That is not your current password."
WRONG_CODE = "That code is not right, or was used already. Try the newest one."


class CodeForm(FlaskForm):
    """A six-digit code from the app, or a recovery code."""

    code = StringField(
        "Code",
        validators=[DataRequired("Enter the code from your app."), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
    )


class PasswordCheckForm(FlaskForm):
    """The current password, asked again before the recovery codes are renewed."""

    password = PasswordField("Current password", validators=[DataRequired("Enter your password.")])


class DisableForm(FlaskForm):
    """The current password and a current code, asked before two-factor is turned off (own ids: the
    page shows this form beside the renewal's, whose fields have the same names)."""

    password = PasswordField(
        "Current password", validators=[DataRequired("Enter your password.")], id="disable-password"
    )
    code = StringField(
        "Code from your app",
        validators=[DataRequired("Enter the code from your app, or a recovery code."), Length(max=40)],
        id="disable-code",
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
    )


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    """The second step of a login: the code from the authenticator app, or a recovery code."""
    pending = pending_login(LoginStep.SECOND_FACTOR)
    if pending is None:
        return redirect(url_for("auth.login"))
    user = pending.user
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("login_code.html", form=form), (400 if request.method == "POST" else 200)
    taken, keys, device = reserve_attempt(user.email, user, step="code")
    if not taken.ok:
        audit.sampled("login.second_factor_throttled", user, user_id=user.id)
        db.session.commit()
        flash(THROTTLED, "error")
        return render_template("login_code.html", form=form), 429, {"Retry-After": str(taken.retry_after)}
    method = two_factor.check(user, form.code.data)
    if method is None:
        audit.record("login.second_factor_failed", user, user_id=user.id)
        db.session.commit()
        form.code.errors = [WRONG_CODE]
        return render_template("login_code.html", form=form), 401
    succeeded(keys)
    audit.record("login.second_factor", user, user_id=user.id, method=method)
    if method == "recovery":
        flash("You used a recovery code. Set up a new phone or new codes from your account page.", "info")
    return complete_login(pending, device)


def _person() -> tuple[User, StaffSession | None] | None:
    """Who may use the account page: a full login, or a login that must enrol (with its session)."""
    if current_user.is_authenticated:
        return current_user._get_current_object(), None
    enrolling = pending_login(LoginStep.ENROL)
    return (enrolling.user, enrolling) if enrolling is not None else None


def _page(
    user: User, enrolling: bool, status: int = 200, headers: dict[str, str] | None = None, **extra: object
) -> ResponseReturnValue:
    """The account's two-factor page in whichever state the enrolment is."""
    found = two_factor.enrolment(user)
    setup = None
    if found is not None and found.confirmed_at is None:
        uri = two_factor.provisioning_uri(found, user)
        setup = {"qr": two_factor.qr_data_uri(uri), "secret": two_factor.spaced(found.secret)}
    return (
        render_template(
            "account_two_factor.html",
            found=found,
            setup=setup,
            enrolling=enrolling,
            required=user.practice.require_two_factor,
            remaining=two_factor.remaining_codes(found) if found and found.confirmed_at else 0,
            code_form=extra.pop("code_form", None) or CodeForm(formdata=None),
            password_form=extra.pop("password_form", None) or PasswordCheckForm(formdata=None),
            disable_form=extra.pop("disable_form", None) or DisableForm(formdata=None),
            **extra,
        ),
        status,
        headers or {},
    )


@bp.get("/account/two-factor")
def manage() -> ResponseReturnValue:
    """Two-factor status, set-up (QR code and the secret as text) or the ways to change it."""
    person = _person()
    if person is None:
        return login_manager.unauthorized()
    return _page(person[0], enrolling=person[1] is not None)


@bp.post("/account/two-factor/start")
def start() -> ResponseReturnValue:
    """Make a new secret to scan (replacing one not yet confirmed); nothing changes at login yet."""
    person = _person()
    if person is None:
        return login_manager.unauthorized()
    if two_factor.is_enrolled(person[0]):
        abort(409)
    two_factor.start(person[0])
    db.session.commit()
    return redirect(url_for("two_factor.manage"))


@bp.post("/account/two-factor/confirm")
def confirm() -> ResponseReturnValue:
    """Prove a code to put two-factor in force; the answer shows the ten recovery codes, once."""
    person = _person()
    if person is None:
        return login_manager.unauthorized()
    user, enrolling = person
    form = CodeForm()
    found = two_factor.enrolment(user)
    if found is None or found.confirmed_at is not None:
        return redirect(url_for("two_factor.manage"))
    codes = two_factor.confirm(found, user, form.code.data or "") if form.validate_on_submit() else None
    if codes is None:
        form.code.errors = form.code.errors or [
            "That code is not right. Check the phone's clock, then try the newest code."
        ]
        return _page(user, enrolling is not None, 400, code_form=form)
    db.session.commit()
    if enrolling is None:
        return _page(user, False, codes=codes, onward=url_for("views.inbox"))
    # The login that had to enrol is complete now; this browser becomes a known device.
    onward = finish_login(enrolling)
    response = make_response(_page(user, False, codes=codes, onward=onward))
    remember_device(response, user, known_device(user))
    return response


def _refused(
    user: User, verdict: Rechecked, name: str, form: FlaskForm, field: Field, error: str
) -> ResponseReturnValue:
    """The page again after a refused secret: 400 with the field's error, or 429 while throttled."""
    if not verdict.retry_after:
        field.errors = [error]
        return _page(user, False, 400, **{name: form})
    flash(THROTTLED, "error")
    return _page(user, False, 429, {"Retry-After": str(verdict.retry_after)}, **{name: form})


@bp.post("/account/two-factor/recovery-codes")
@login_required
def renew_codes() -> ResponseReturnValue:
    """Ten new recovery codes in place of the old ones (password asked again)."""
    user = current_user._get_current_object()
    found = two_factor.enrolment(user)
    if found is None or found.confirmed_at is None:
        return redirect(url_for("two_factor.manage"))
    form = PasswordCheckForm()
    if not form.validate_on_submit():
        return _page(user, False, 400, password_form=form)
    verdict = recheck_password(user, form.password.data)
    if not verdict.right:
        return _refused(user, verdict, "password_form", form, form.password, NOT_CURRENT)
    codes = two_factor.new_recovery_codes(found)
    audit.record("two_factor.recovery_codes_renewed", user)
    db.session.commit()
    return _page(user, False, codes=codes, onward=url_for("two_factor.manage"))


@bp.post("/account/two-factor/disable")
@login_required
def disable() -> ResponseReturnValue:
    """Turn one's own two-factor off (password and a current code asked), unless the practice requires it."""
    user = current_user._get_current_object()
    if user.practice.require_two_factor:
        flash("Your practice requires two-factor login, so it stays on.", "error")
        return redirect(url_for("two_factor.manage"))
    form = DisableForm()
    if not form.validate_on_submit():
        return _page(user, False, 400, disable_form=form)
    verdict = recheck_password(user, form.password.data)
    if not verdict.right:
        return _refused(user, verdict, "disable_form", form, form.password, NOT_CURRENT)
    verdict = recheck_code(user, form.code.data)
    if not verdict.right:
        return _refused(user, verdict, "disable_form", form, form.code, WRONG_CODE)
    two_factor.remove(user, "two_factor.disable")
    db.session.commit()
    flash("Two-factor login is off. Your password alone logs you in now.", "info")
    return redirect(url_for("two_factor.manage"))
