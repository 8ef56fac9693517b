"""Minors whose texts go to a guardian's phone: automated texts greet whoever reads them, and a guardian
placeholder without a guardian on file is an error, never "Hi ,"."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from inbox.extensions import db
from inbox.models import Message, Template
from inbox.texting import automations
from inbox.texting.journeys import open_journey
from inbox.texting.wording import DEFAULT_TEMPLATES, NOT_MONITORED
from tests import factories
from tests.test_intake_forms import submit

GRACE = "+14155550188"  # the guardian's phone, which the minor's texts go to


def welcome_body() -> str:
    """The welcome automation's text (held for consent, but composed)."""
    db.session.expire_all()
    msg = db.session.scalar(select(Message).where(Message.kind == "automated").order_by(Message.id))
    assert msg is not None, "no welcome was composed"
    return msg.body


def test_form_for_a_minor_on_the_guardians_phone_greets_the_guardian(client, practice):
    answer = submit(
        client,
        practice,
        first_name="Noah",
        last_name="Miller",
        phone="(415) 555-0188",
        guardian_name="Grace Miller",
        guardian_phone="(415) 555-0188",
    )
    assert answer.status_code == 200
    assert welcome_body().startswith("Hi Grace, Welcome to Calm Harbor Therapy!")


def test_a_minor_with_a_phone_of_their_own_is_greeted_by_name(practice):
    noah = factories.contact(
        practice, phone="+14155550177", first_name="Noah", guardian_name="Grace Miller", guardian_phone=GRACE
    )
    open_journey(noah)
    db.session.commit()
    assert welcome_body().startswith("Hi Noah, Welcome")


def test_every_automation_greets_the_guardian_who_reads_it(practice):
    noah = factories.contact(
        practice, phone=GRACE, first_name="Noah", guardian_name="Grace Miller", guardian_phone=GRACE
    )
    journey = factories.journey(noah)
    for trigger in ("welcome", "paperwork", "followup"):
        assert automations.fire(journey, trigger).body.startswith("Hi Grace, "), trigger


@pytest.mark.parametrize("placeholder", ["guardian.first_name", "guardian.full_name"])
def test_guardian_placeholder_without_a_guardian_is_a_preview_error(staff_client, practice, placeholder):
    journey = factories.journey(factories.contact(practice))
    body = "Hi {{ " + placeholder + " }}, a note about Maria's intake."
    preview = staff_client.post(f"/api/journeys/{journey.id}/preview", json={"body": body})
    assert preview.status_code == 422
    assert preview.get_json()["error"] == "no guardian on file for {{ " + placeholder + " }}"
    sent = staff_client.post(f"/api/journeys/{journey.id}/messages", json={"body": body})
    assert sent.status_code == 422
    assert db.session.scalar(select(Message).where(Message.body_ct.is_not(None))) is None


def test_guardian_placeholder_is_filled_when_a_guardian_is_on_file(staff_client, practice):
    noah = factories.contact(practice, first_name="Noah", guardian_name="Grace Miller", guardian_phone=GRACE)
    journey = factories.journey(noah)
    body = "Hi {{ guardian.first_name }}, about {{ contact.first_name }}'s intake."
    preview = staff_client.post(f"/api/journeys/{journey.id}/preview", json={"body": body}).get_json()
    assert preview["body"] == "Hi Grace, about Noah's intake."


def test_an_automation_naming_a_missing_guardian_sends_nothing(practice):
    welcome = db.session.scalar(select(Template).where(Template.trigger == "welcome"))
    welcome.body = "Hi {{ guardian.first_name }}, welcome!"
    db.session.commit()
    journey = factories.journey(factories.contact(practice))
    assert automations.fire(journey, "welcome") is None
    assert db.session.scalar(select(Message)) is None


def test_upgrade_greets_the_reader_in_untouched_preloaded_templates(app_env, monkeypatch, tmp_path):
    from inbox import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'old.sqlite3'}")
    # The welcome as first pre-loaded: before 0004 greeted the reader, and 0008 said when texts are read.
    old_welcome = (
        DEFAULT_TEMPLATES[2][3]
        .replace(f"{NOT_MONITORED} ", "")
        .replace("{{ recipient.first_name }}", "{{ contact.first_name }}")
    )
    own_words = "Hi {{ contact.first_name }}, welcome to our practice!"
    app = create_app()
    with app.app_context():
        upgrade(revision="0003")
        db.session.execute(
            text(
                "INSERT INTO practices (name, timezone, public_token, require_opt_in, send_stop_confirmation,"
                " quiet_start, quiet_end, welcome_enabled, ephi_in_popups, delete_media_at_twilio, created_at)"
                " VALUES ('P', 'America/New_York', 'tok', true, true, 1260, 480, true, true, true, '2026-11-01')"
            )
        )
        for body in (old_welcome, own_words):
            db.session.execute(
                text(
                    "INSERT INTO templates (practice_id, name, body, mode, trigger, enabled, created_at)"
                    " VALUES (1, 'Welcome', :body, 'auto', 'welcome', true, '2026-11-01')"
                ),
                {"body": body},
            )
        db.session.commit()
        upgrade()
        bodies = db.session.scalars(text("SELECT body FROM templates ORDER BY id")).all()
        db.session.remove()
        db.engine.dispose()
    assert bodies == [DEFAULT_TEMPLATES[2][3], own_words]
    assert bodies[0].startswith("Hi {{ recipient.first_name }}, Welcome")
