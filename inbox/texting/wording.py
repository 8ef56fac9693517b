"""The words people read, in one place: the defaults of the keyword replies, the opt-in request, the
consent sentences the forms show and store as evidence, the six pre-loaded templates, and the one
text staff's own phones get when a safety alert waits.

Practices may override most of them in Admin → Settings and Templates; the settings page shows these
defaults, the webhook replies with them, automations start from them. Placeholders ({{ practice.name }})
are filled by texting.templating.
"""

from __future__ import annotations

# When texts are read, in every first word we send: a person in crisis must not wait for an answer.
NOT_MONITORED = "Texts are not monitored 24/7; in an emergency call 911 or 988."

DEFAULT_HELP = (
    "{{ practice.name }}: texts about your appointments and intake. Questions? Call {{ practice.phone }}. "
    f"{NOT_MONITORED} Reply STOP to opt out. Msg & data rates may apply."
)

# Sent at once, outside office hours, to a text with crisis language (texting.safety), at most once per
# contact in 12 hours. Practices may reword it (Admin -> Settings); it must keep 988 and 911.
DEFAULT_SAFETY_REPLY = (
    "{{ practice.name }}: our texts are not watched around the clock and nobody may read yours until "
    "we are back in the office. If you are in crisis or thinking about harming yourself, call or text "
    "988 (Suicide & Crisis Lifeline) now. In an emergency call 911."
)

# The public request form's thank-you page, when what the person wrote reads as risk: a form is not
# watched around the clock either, and they are looking at this page now.
FORM_CRISIS_LINES = (
    "If you are in crisis or thinking about harming yourself or someone else, please do not wait for us: "
    "call or text 988 (Suicide & Crisis Lifeline) now, any time of day. In an emergency call 911."
)

# Texted to a staff member's own phone while a safety alert waits unacknowledged (texting.escalation).
# No patient's name, number or words: a phone's lock screen shows it to whoever holds the phone.
ESCALATION_TEXT = "A safety alert at {{ practice.name }} is waiting. Open Intake Inbox."

STOP_CONFIRMATION = "{{ practice.name }}: you are unsubscribed and will get no more texts from us. Reply START to resubscribe."

START_CONFIRMATION = "{{ practice.name }}: thank you, you are subscribed to texts from us. Reply STOP to opt out, HELP for help."

DEFAULT_OPT_IN_TEXT = (
    "{{ practice.name }} would like to text you about your care. Texts are not encrypted: others with "
    "access to your phone or carrier could read them. We keep your replies in our secure, HIPAA-compliant "
    "record and send only what is needed. Reply YES to accept texts, STOP to opt out. "
    "Msg & data rates may apply."
)

WEB_CONSENT_SENTENCE = (
    "By submitting this form, I understand that I may receive text communication to the phone number "
    "provided. I can opt-out of this communication at any time by responding STOP."
)

PHONE_ATTESTATION = (
    "This caller was informed they will receive text communication to the phone number provided "
    "and can opt-out of this communication at any time by responding STOP."
)

# Two manual-send and four auto-send templates, as the seed CRM pre-loads them. They greet the reader
# (`recipient`): the guardian when the number we text is the guardian's, else the contact.
DEFAULT_TEMPLATES = [
    (
        "Schedule an intake call",
        "manual",
        None,
        "Hi {{ recipient.first_name }}, this is {{ staff.first_name }} from {{ practice.name }}. "
        "When is a good time for a short intake call?",
    ),
    (
        "Ask for insurance card photos",
        "manual",
        None,
        "Hi {{ recipient.first_name }}, could you reply with a photo of the front and back of your "
        "insurance card? Thank you! {{ practice.name }}",
    ),
    (
        "Welcome (new journey or inquiry)",
        "auto",
        "welcome",
        "Hi {{ recipient.first_name }}, Welcome to {{ practice.name }}! To communicate with our intake "
        "coordinators about scheduling an appointment, feel free to text this number, send an email to "
        "{{ practice.email }}, or call {{ practice.phone }}. "
        f"{NOT_MONITORED} Text STOP to unsubscribe from these messages at any time.",
    ),
    (
        "Appointment confirmation",
        "auto",
        "appointment",
        "Hi {{ recipient.first_name }}, this confirms your appointment with {{ practice.name }} on "
        "{{ journey.appointment_time }}. Reply here if you need to reschedule.",
    ),
    (
        "Paperwork reminder",
        "auto",
        "paperwork",
        "Hi {{ recipient.first_name }}, a reminder from {{ practice.name }}: please complete your intake "
        "paperwork before your first appointment. Questions? Call {{ practice.phone }}.",
    ),
    (
        "Follow-up check-in",
        "auto",
        "followup",
        "Hi {{ recipient.first_name }}, {{ practice.name }} checking in. Is there anything we can help you "
        "with? Reply here or call {{ practice.phone }}.",
    ),
]
