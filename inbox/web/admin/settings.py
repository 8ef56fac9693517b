"""Practice settings for admins: details, time zone, every consent rule, two-factor, and the templates.

Each save is one audited change listing the fields that moved (names and switches only: free text
is practice wording, never patient data, but the audit trail stays lean). Turning "require opt-in"
off goes through `consent.set_require_opt_in`, the one place that releases held texts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from inbox.common import audit
from inbox.extensions import db
from inbox.models import Message, Template
from inbox.texting.practices import public_form_url, update_practice
from inbox.texting.safety import parse_holidays
from inbox.texting.templating import TemplateError, count_segments, placeholder_values, render
from inbox.texting.wording import (
    DEFAULT_HELP,
    DEFAULT_OPT_IN_TEXT,
    DEFAULT_SAFETY_REPLY,
    WEB_CONSENT_SENTENCE,
)
from inbox.web.auth import admin_required

bp = Blueprint("settings", __name__, url_prefix="/admin")
TIMEZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
AUTO_TRIGGERS = {
    "welcome": "every new journey or inquiry",
    "appointment": "when an appointment time is set",
    "paperwork": "before the first appointment",
    "followup": "after 7 quiet days",
}


def _renders(form: FlaskForm, field: Field) -> None:
    """Placeholders must be ones we know; a typo would otherwise reach a patient as a blank."""
    if not field.data:
        return
    try:
        render(field.data, placeholder_values(current_user.practice, None, None))
    except TemplateError as exc:
        raise ValidationError(f"This text has an {exc}.") from exc


def _mentions(*words: str) -> Callable[[FlaskForm, Field], None]:
    """The text must name each keyword, as carriers require (YES to opt in, STOP to opt out)."""

    def check(form: FlaskForm, field: Field) -> None:
        missing = [w for w in words if w not in (field.data or "").upper()]
        if missing:
            raise ValidationError("Say how to reply: mention " + " and ".join(missing) + ".")

    return check


def _dates(form: FlaskForm, field: Field) -> None:
    """Holidays are dates like 2026-12-25, one per line."""
    try:
        parse_holidays(field.data or "")
    except ValueError as exc:
        raise ValidationError(f"{exc}.") from exc


def _after_start(form: FlaskForm, field: Field) -> None:
    """Office hours end after they start (the same day)."""
    start = form.office_start.data
    if start is not None and field.data is not None and field.data <= start:
        raise ValidationError("Office hours must end after they start.")


class PracticeForm(FlaskForm):
    """Practice details and the consent rules."""

    name = StringField(
        "Practice name", validators=[DataRequired("Enter the practice's name."), Length(max=200)]
    )
    timezone = SelectField("Time zone", choices=TIMEZONES)
    phone = StringField("Office phone (shown in texts)", validators=[Optional(), Length(max=32)])
    email = EmailField(
        "Office email", validators=[Optional(), Email("Enter a valid email."), Length(max=254)]
    )
    website = StringField("Website", validators=[Optional(), Length(max=254)])

    require_opt_in = BooleanField("Require opt-in before any text goes out")
    opt_in_text = TextAreaField(
        "Opt-in request",
        render_kw={"rows": 4},
        validators=[DataRequired(), Length(max=640), _renders, _mentions("YES", "STOP")],
    )
    help_text = TextAreaField(
        "Reply to HELP",
        render_kw={"rows": 3},
        validators=[DataRequired(), Length(max=640), _renders, _mentions("STOP")],
    )
    send_stop_confirmation = BooleanField("Confirm STOP with one last text")
    quiet_start = TimeField("Quiet hours start", validators=[InputRequired("Enter a time.")])
    quiet_end = TimeField("Quiet hours end", validators=[InputRequired("Enter a time.")])
    welcome_enabled = BooleanField("Send the welcome text to every new journey")
    ephi_in_popups = BooleanField("Show names and message text in notification popups")
    delete_media_at_twilio = BooleanField("Delete photos from Twilio once they are stored here")
    web_consent_sentence = TextAreaField(
        "Consent sentence on the appointment-request form",
        render_kw={"rows": 3},
        validators=[DataRequired(), Length(max=600), _mentions("STOP")],
    )
    require_two_factor = BooleanField("Require two-factor login for everyone")
    # Office hours: a box per ISO weekday (office_1 is Monday), the hours, and the holidays.
    office_1 = BooleanField("Mon")
    office_2 = BooleanField("Tue")
    office_3 = BooleanField("Wed")
    office_4 = BooleanField("Thu")
    office_5 = BooleanField("Fri")
    office_6 = BooleanField("Sat")
    office_7 = BooleanField("Sun")
    office_start = TimeField("Office hours start", validators=[InputRequired("Enter a time.")])
    office_end = TimeField("Office hours end", validators=[InputRequired("Enter a time."), _after_start])
    holidays = TextAreaField(
        "Holidays (closed all day)",
        render_kw={"rows": 3, "placeholder": "2026-12-25"},
        validators=[Length(max=4000), _dates],
    )
    safety_reply_text = TextAreaField(
        "Safety reply (after hours, to a text with crisis language)",
        render_kw={"rows": 4},
        validators=[DataRequired(), Length(max=640), _renders, _mentions("988", "911")],
    )
    retention_days = IntegerField(
        "Purge message text and photos older than (days)",
        validators=[
            Optional(),
            NumberRange(min=30, max=36500, message="Between 30 and 36500 days, or empty."),
        ],
    )


class TemplateForm(FlaskForm):
    """One message template."""

    name = StringField("Name", validators=[DataRequired("Give the template a name."), Length(max=120)])
    body = TextAreaField(
        "Text",
        render_kw={"rows": 6},
        validators=[DataRequired("Enter the text."), Length(max=1600), _renders],
    )
    enabled = BooleanField("On")


def _minutes(value: time | None) -> int | None:
    """A time of day as minutes after midnight, as the practice stores quiet hours."""
    return None if value is None else value.hour * 60 + value.minute


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def practice() -> ResponseReturnValue:
    """Practice details and consent settings."""
    practice = current_user.practice
    form = PracticeForm(obj=practice)
    if request.method == "GET":
        form.opt_in_text.data = practice.opt_in_text or DEFAULT_OPT_IN_TEXT
        form.help_text.data = practice.help_text or DEFAULT_HELP
        form.web_consent_sentence.data = practice.web_consent_sentence or WEB_CONSENT_SENTENCE
        form.quiet_start.data = time(practice.quiet_start // 60, practice.quiet_start % 60)
        form.quiet_end.data = time(practice.quiet_end // 60, practice.quiet_end % 60)
        form.safety_reply_text.data = practice.safety_reply_text or DEFAULT_SAFETY_REPLY
        form.office_start.data = time(practice.office_start // 60, practice.office_start % 60)
        # 24:00 (open until midnight) shows as the last minute of the day, which a time input can hold.
        form.office_end.data = time(*divmod(min(practice.office_end, 24 * 60 - 1), 60))
        form.holidays.data = "\n".join(practice.holidays or [])
        for day in range(1, 8):
            form[f"office_{day}"].data = str(day) in practice.office_days
    if form.validate_on_submit():
        values = {
            name: field.data
            for name, field in form._fields.items()
            if name != "csrf_token" and not name.startswith("office_")
        }
        values["quiet_start"], values["quiet_end"] = (
            _minutes(form.quiet_start.data),
            _minutes(form.quiet_end.data),
        )
        values["office_days"] = "".join(str(d) for d in range(1, 8) if form[f"office_{d}"].data)
        values["office_start"], values["office_end"] = (
            _minutes(form.office_start.data),
            _minutes(form.office_end.data),
        )
        values["holidays"] = parse_holidays(form.holidays.data or "")
        for name in ("phone", "email", "website"):
            values[name] = values[name] or None
        # Unchanged wording stays "the default", so an improved default reaches the practice too.
        for name, default in (
            ("opt_in_text", DEFAULT_OPT_IN_TEXT),
            ("help_text", DEFAULT_HELP),
            ("safety_reply_text", DEFAULT_SAFETY_REPLY),
        ):
            values[name] = None if values[name] == default else values[name]
        changed = update_practice(practice, values, current_user)
        db.session.commit()
        flash("Settings saved." if changed else "Nothing changed.", "info")
        return redirect(url_for("settings.practice"))
    if request.method == "GET":
        audit.record("settings.view", practice)
        db.session.commit()
    return render_template("admin/settings.html", form=form, form_url=public_form_url(practice)), (
        400 if form.errors else 200
    )


def _template_or_404(template_id: int) -> Template:
    """One of the admin's own practice's templates."""
    template = db.session.get(Template, template_id)
    if template is None or template.practice_id != current_user.practice_id:
        abort(404)
    return template


@bp.get("/templates")
@admin_required
def templates() -> ResponseReturnValue:
    """The practice's templates: staff ones first, then the automations."""
    rows = db.session.scalars(
        select(Template)
        .where(Template.practice_id == current_user.practice_id)
        .order_by(Template.mode.desc(), Template.name)
    ).all()
    return render_template(
        "admin/templates.html", templates=rows, triggers=AUTO_TRIGGERS, segments=count_segments
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@admin_required
def edit_template(template_id: int | None = None) -> ResponseReturnValue:
    """Create a staff template, or edit any template's name, text and (for automations) switch."""
    template = _template_or_404(template_id) if template_id else None
    form = TemplateForm(obj=template)
    if template is None and request.method == "GET":
        form.enabled.data = True
    if form.validate_on_submit():
        if template is None:
            template = Template(practice_id=current_user.practice_id, mode="manual")
            db.session.add(template)
        template.name, template.body = form.name.data.strip(), form.body.data
        template.enabled = form.enabled.data
        db.session.flush()
        audit.record("template.save", template, created=template_id is None)
        db.session.commit()
        flash("Template saved.", "info")
        return redirect(url_for("settings.templates"))
    return render_template(
        "admin/template_form.html",
        form=form,
        template=template,
        triggers=AUTO_TRIGGERS,
        placeholders=sorted(placeholder_values(current_user.practice, None, None)),
    ), (400 if form.errors else 200)


@bp.post("/templates/<int:template_id>/delete")
@admin_required
def delete_template(template_id: int) -> ResponseReturnValue:
    """Delete a staff template; one that messages were sent from is switched off instead (kept as record)."""
    template = _template_or_404(template_id)
    if template.mode != "manual":
        abort(400)  # automations can be switched off, not deleted
    used = db.session.scalar(select(Message.id).where(Message.template_id == template.id).limit(1))
    if used:
        template.enabled = False
        audit.record("template.save", template, enabled=False)
        flash("Messages were sent from this template, so it is switched off instead of deleted.", "info")
    else:
        audit.record("template.delete", template)
        db.session.delete(template)
        flash("Template deleted.", "info")
    db.session.commit()
    return redirect(url_for("settings.templates"))
