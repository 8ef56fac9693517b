"""Setting up a practice: its number and the six pre-loaded templates."""

from __future__ import annotations

from flask import current_app

from inbox.extensions import db
from inbox.models import Practice, PracticeNumber, Template

WEB_CONSENT_SENTENCE = (
    "By submitting this form, I understand that I may receive text communication to the phone number "
    "provided. I can opt-out of this communication at any time by responding STOP."
)
# Two manual-send and four auto-send templates, as the seed CRM pre-loads them.
DEFAULT_TEMPLATES = [
    (
        "Schedule an intake call",
        "manual",
        None,
        "Hi {{ contact.first_name }}, this is {{ staff.first_name }} from {{ practice.name }}. "
        "When is a good time for a short intake call?",
    ),
    (
        "Ask for insurance card photos",
        "manual",
        None,
        "Hi {{ contact.first_name }}, could you reply with a photo of the front and back of your "
        "insurance card? Thank you! {{ practice.name }}",
    ),
    (
        "Welcome (new journey or inquiry)",
        "auto",
        "welcome",
        "Hi {{ contact.first_name }}, Welcome to {{ practice.name }}! To communicate with our intake "
        "coordinators about scheduling an appointment, feel free to text this number, send an email to "
        "{{ practice.email }}, or call {{ practice.phone }}. Text STOP to unsubscribe from these messages "
        "at any time.",
    ),
    (
        "Appointment confirmation",
        "auto",
        "appointment",
        "Hi {{ contact.first_name }}, this confirms your appointment with {{ practice.name }} on "
        "{{ journey.appointment_time }}. Reply here if you need to reschedule.",
    ),
    (
        "Paperwork reminder",
        "auto",
        "paperwork",
        "Hi {{ contact.first_name }}, a reminder from {{ practice.name }}: please complete your intake "
        "paperwork before your first appointment. Questions? Call {{ practice.phone }}.",
    ),
    (
        "Follow-up check-in",
        "auto",
        "followup",
        "Hi {{ contact.first_name }}, {{ practice.name }} checking in. Is there anything we can help you "
        "with? Reply here or call {{ practice.phone }}.",
    ),
]


def create_practice(name: str, number: str, timezone: str, **details) -> Practice:
    """A new practice with its Twilio number and the pre-loaded templates (caller commits)."""
    practice = Practice(name=name, timezone=timezone, web_consent_sentence=WEB_CONSENT_SENTENCE, **details)
    db.session.add(practice)
    db.session.add(PracticeNumber(practice=practice, e164=number))
    for template_name, mode, trigger, body in DEFAULT_TEMPLATES:
        db.session.add(Template(practice=practice, name=template_name, mode=mode, trigger=trigger, body=body))
    db.session.flush()
    return practice


def public_form_url(practice: Practice) -> str:
    """The practice's public appointment-request form, as patients and its website reach it."""
    return f"{current_app.config['INBOX_PUBLIC_URL']}/request/{practice.public_token}"
