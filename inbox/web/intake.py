"""Journeys from the other doors: the public appointment-request form and the staff phone-intake form.

Both record consent evidence with the exact sentence shown, create (or find, by number) the contact,
open a new inquiry journey (which fires the welcome automation through the consent decision), and
store nothing at all when the submission is rejected.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, EmailField, Field, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from inbox.common import audit, throttle
from inbox.common.phones import InvalidNumber, to_e164
from inbox.extensions import db
from inbox.models import Contact, Journey, Message, Practice, User
from inbox.presenters import notification_json
from inbox.texting import consent, safety, wording
from inbox.texting.automations import send_welcome
from inbox.texting.journeys import find_contact, open_journey
from inbox.texting.thread import announce, log_activity, new_message, touch_journey
from inbox.texting.wording import WEB_CONSENT_SENTENCE
from inbox.vocabulary import ConsentState, Direction, Kind, Status

bp = Blueprint("intake", __name__)
SUBMISSIONS_PER_HOUR = 5  # per address, on the public form
NAME = [DataRequired("Enter a name."), Length(max=100, message="At most 100 characters.")]


def _phone(form: FlaskForm, field: Field) -> None:
    """A number we can text, normalised to E.164 on the field."""
    if not field.data:
        return
    try:
        field.data = to_e164(field.data)
    except InvalidNumber as exc:
        raise ValidationError("Enter a mobile number we can text, like (415) 555-0123.") from exc


class RequestForm(FlaskForm):
    """The public appointment-request form (CSRF on, like every form)."""

    first_name = StringField("First name", validators=NAME)
    last_name = StringField("Last name", validators=NAME)
    phone = StringField("Mobile number", validators=[DataRequired("Enter a mobile number."), _phone])
    email = EmailField("Email", validators=[Optional(), Email("Enter a valid email."), Length(max=254)])
    guardian_name = StringField("Parent or guardian (for minors)", validators=[Optional(), Length(max=200)])
    guardian_phone = StringField("Guardian's mobile number", validators=[Optional(), _phone])
    reason = TextAreaField("Reason for contacting us", validators=[Optional(), Length(max=2000)])
    preferred_times = StringField("Preferred days and times", validators=[Optional(), Length(max=300)])
    consent = BooleanField()  # never required: consent is not a condition of asking for care
    website = StringField()  # honeypot: people never see it, bots fill it in


class PhoneIntakeForm(RequestForm):
    """The staff phone-intake form: the same fields plus the mandatory attestation."""

    attestation = BooleanField(validators=[DataRequired("Confirm you told the caller about texts and STOP.")])


def _practice_by_token(token: str) -> Practice:
    """The practice whose public form this is, or 404."""
    practice = db.session.scalar(select(Practice).where(Practice.public_token == token))
    if practice is None:
        abort(404)
    return practice


def _open_inquiry(
    contact: Contact, form: RequestForm, *, source: str, stage: str, actor: User | None = None
) -> tuple[Journey, bool]:
    """A new inquiry journey whose thread starts with what the person asked for (encrypted, like every
    message body), then the welcome through the consent decision. True with it when those words read
    as risk (a safety alert is raised)."""
    journey = open_journey(contact, source=source, inquiry=True, actor=actor, stage=stage, welcome=False)
    asked = [
        f"{label}: {value.strip()}"
        for label, value in (("Reason", form.reason.data), ("Preferred times", form.preferred_times.data))
        if value and value.strip()
    ]
    if source == "web":
        # The person's own words, and news: unread for everyone, a popup, the inbox row's preview.
        msg = _store_web_request(journey, "\n".join(asked) or "Asked to be contacted (website form)")
        alert = safety.check_words(journey, msg, "\n".join(asked), source="web")
    elif asked:
        line = log_activity(journey, "Request by phone. " + " · ".join(asked), actor)
        alert = safety.check_words(journey, line, "\n".join(asked), source="phone")
    else:
        alert = None
    send_welcome(journey, by_contact=source == "web")  # the person's own form; a phone intake is staff's
    return journey, alert is not None


def _store_web_request(journey: Journey, body: str) -> Message:
    """The website form's request as an inbound message of the new journey (encrypted like any text)."""
    msg = new_message(
        journey, direction=Direction.INBOUND, kind=Kind.WEB_REQUEST, body=body, status=Status.RECEIVED
    )
    db.session.flush()
    announce(msg, "message.new")  # before the popup, as for a text
    touch_journey(journey, msg, notify=notification_json(journey.contact.practice, msg))
    return msg


def _too_many_from(ip: str | None) -> bool:
    """Per-address throttle of the public form: the attempt is reserved before any work, so a burst of
    simultaneous posts cannot all pass a count of zero (inbox/common/throttle.py)."""
    return not throttle.take_limited(f"webform:{ip}", SUBMISSIONS_PER_HOUR, timedelta(hours=1)).ok


def _contact_from(form: RequestForm, practice: Practice) -> Contact:
    """Find the practice's contact by number (filling gaps in what we know) or create one."""
    contact = find_contact(practice.id, form.phone.data)
    if contact is None:
        contact = Contact(practice_id=practice.id, phone=form.phone.data)
        db.session.add(contact)
    contact.first_name = form.first_name.data.strip()
    contact.last_name = form.last_name.data.strip()
    contact.email = form.email.data or contact.email
    contact.guardian_name = form.guardian_name.data or contact.guardian_name
    contact.guardian_phone = form.guardian_phone.data or contact.guardian_phone
    db.session.flush()
    return contact


@bp.route("/request/<token>", methods=["GET", "POST"])
def request_form(token: str) -> ResponseReturnValue:
    """The practice's public appointment-request form (embeddable in its website)."""
    practice = _practice_by_token(token)
    sentence = practice.web_consent_sentence or WEB_CONSENT_SENTENCE
    form = RequestForm()
    if request.method == "POST":
        if _too_many_from(request.remote_addr):
            return render_template(
                "request_form.html", form=form, practice=practice, sentence=sentence, throttled=True
            ), 429
        if form.website.data:  # a bot: answer as if it worked, keep nothing
            return render_template("request_done.html", practice=practice)
        if form.validate_on_submit():
            contact = _contact_from(form, practice)
            if form.consent.data:
                # With opt-in required, a form is evidence but cannot prove the number is theirs:
                # the state stays as it is and the contact still confirms by replying YES.
                state = ConsentState.OPTED_IN if not practice.require_opt_in else contact.consent_state
                consent.record(contact, state, "web_form", evidence=sentence)
            journey, at_risk = _open_inquiry(contact, form, source="web", stage="Web request")
            audit.record("webform.submit", journey, practice_id=practice.id, consent=bool(form.consent.data))
            db.session.commit()
            # Words that read as risk: the crisis lines at once, on the page the person is looking at.
            crisis = wording.FORM_CRISIS_LINES if at_risk else None
            return render_template("request_done.html", practice=practice, crisis=crisis)
        audit.record("webform.submit", practice_id=practice.id, rejected=True)
        db.session.commit()
        return render_template("request_form.html", form=form, practice=practice, sentence=sentence), 400
    return render_template("request_form.html", form=form, practice=practice, sentence=sentence)


@bp.route("/intake/phone", methods=["GET", "POST"])
@login_required
def phone_intake() -> ResponseReturnValue:
    """Staff log a phone inquiry, attesting that the caller was told about texts and STOP."""
    practice = current_user.practice
    form = PhoneIntakeForm()
    if form.validate_on_submit():
        contact = _contact_from(form, practice)
        consent.record(
            contact,
            ConsentState.OPTED_IN,
            "phone_attestation",
            evidence=wording.PHONE_ATTESTATION,
            actor=current_user,
        )
        journey, _at_risk = _open_inquiry(
            contact, form, source="phone", stage="Phone inquiry", actor=current_user
        )
        audit.record("phone_intake.submit", journey)
        db.session.commit()
        flash("Phone inquiry saved.", "info")
        return redirect(url_for("views.journey_page", journey_id=journey.id))
    status = 400 if request.method == "POST" else 200
    return render_template("phone_intake.html", form=form, sentence=wording.PHONE_ATTESTATION), status
