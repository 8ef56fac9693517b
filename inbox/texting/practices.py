"""A practice: setting it up (its number, the six pre-loaded templates) and changing its settings."""

from __future__ import annotations

from typing import Any

from flask import current_app

from inbox.common import audit
from inbox.extensions import db
from inbox.models import Practice, PracticeNumber, Template, User
from inbox.texting import consent
from inbox.texting.wording import DEFAULT_TEMPLATES, WEB_CONSENT_SENTENCE


def create_practice(name: str, number: str, timezone: str, **details: Any) -> Practice:
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


def update_practice(practice: Practice, values: dict, actor: User) -> list[str]:
    """Apply changed settings; returns the names of the fields that changed (audited, caller commits)."""
    changed = [name for name, value in values.items() if getattr(practice, name) != value]
    for name in changed:
        if name == "require_opt_in":
            consent.set_require_opt_in(practice, values[name], actor)
        else:
            setattr(practice, name, values[name])
    if changed:
        switches = {n: values[n] for n in changed if isinstance(values[n], bool)}
        audit.record("settings.update", practice, fields=changed, **switches)
    return changed
