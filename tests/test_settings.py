"""Admins change the practice's details, consent rules and templates; staff and outsiders cannot."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, ConsentEvent, Message, Practice, Template
from inbox.texting.outbox import compose
from tests import factories
from tests.conftest import StaffClient


def form_values(page: bytes) -> dict[str, str]:
    """The settings form as the browser would submit it unchanged (inputs, textareas, selects, checkboxes)."""
    html = page.decode()
    values = {}
    for tag in re.finditer(r"<input[^>]*>", html):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(0)))
        if "name" not in attrs:
            continue
        if attrs.get("type") == "checkbox":
            if "checked" in tag.group(0):
                values[attrs["name"]] = "y"
        else:
            values[attrs["name"]] = attrs.get("value", "")
    for area in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>\s*(.*?)</textarea>', html, re.S):
        values[area.group(1)] = area.group(2).replace("&#39;", "'").replace("&amp;", "&")
    for select_ in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(
            r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select_.group(2)
        )
        values[select_.group(1)] = next(v for v in chosen.groups() if v is not None)
    return values


def save(browser, **changes):
    """Submit the settings form with some fields changed (None unticks a checkbox)."""
    values = form_values(browser.get("/admin/settings").data)
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return browser.post("/admin/settings", data=values)


def test_settings_page_shows_current_rules_and_the_public_form_address(admin_client, practice):
    page = admin_client.get("/admin/settings")
    assert page.status_code == 200
    values = form_values(page.data)
    assert values["require_opt_in"] == "y" and values["timezone"] == "America/New_York"
    assert "Reply YES" in values["opt_in_text"] and values["quiet_start"] == "21:00"
    assert f"/request/{practice.public_token}" in page.get_data(as_text=True)


def test_saving_changes_only_what_moved_and_audits_the_field_names(admin_client, practice):
    response = save(admin_client, quiet_start="20:30", ephi_in_popups=None, timezone="America/Chicago")
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Practice, practice.id)
    assert (saved.quiet_start, saved.ephi_in_popups, saved.timezone) == (
        20 * 60 + 30,
        False,
        "America/Chicago",
    )
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.update")).one()
    assert sorted(event.detail["fields"]) == ["ephi_in_popups", "quiet_start", "timezone"]
    assert event.detail["ephi_in_popups"] is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("opt_in_text", "Can we text you? Reply STOP to opt out.", "mention YES"),
        ("opt_in_text", "Hi {{ contact.frist_name }}: reply YES, or STOP.", "unknown placeholder"),
        ("help_text", "Call us.", "mention STOP"),
        ("web_consent_sentence", "", "This field is required"),
        ("retention_days", "3", "Between 30 and 36500"),
        ("quiet_end", "25:00", "Not a valid time"),
        ("email", "nope", "valid email"),
    ],
)
def test_bad_settings_are_refused_next_to_the_field_and_nothing_changes(
    admin_client, practice, field, value, message
):
    before = {c.name: getattr(practice, c.name) for c in Practice.__table__.columns}
    response = save(admin_client, **{field: value, "name": "Renamed"})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    after = db.session.get(Practice, practice.id)
    assert {c.name: getattr(after, c.name) for c in Practice.__table__.columns} == before


def test_turning_opt_in_off_releases_held_texts_in_order(admin_client, practice, admin):
    journey = factories.journey(factories.contact(practice))
    held = [compose(journey, f"text {i}", author=admin) for i in range(3)]
    db.session.commit()
    assert {m.status for m in held} == {"held_for_consent"}
    assert save(admin_client, require_opt_in=None).status_code == 302
    db.session.expire_all()
    assert [db.session.get(Message, m.id).status for m in held] == ["queued"] * 3


def test_edited_consent_sentence_is_what_the_public_form_shows_and_stores(admin_client, client, practice):
    sentence = "Tick to get texts about your appointment from Calm Harbor. Reply STOP at any time."
    assert save(admin_client, web_consent_sentence=sentence).status_code == 302
    page = client.get(f"/request/{practice.public_token}")
    assert sentence in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(
        1
    )
    response = client.post(
        f"/request/{practice.public_token}",
        data={
            "csrf_token": token,
            "first_name": "Ana",
            "last_name": "Ruiz",
            "phone": "(415) 555-0142",
            "consent": "y",
        },
    )
    assert response.status_code == 200
    events = db.session.scalars(select(ConsentEvent).where(ConsentEvent.source == "web_form")).all()
    assert [event.evidence for event in events] == [sentence]


@pytest.mark.parametrize("path", ["/admin/settings", "/admin/templates", "/admin/templates/new"])
def test_settings_pages_are_for_admins_only(app, staff_client, client, path):
    assert staff_client.get(path).status_code == 403
    assert staff_client.post(path, data={"name": "x"}).status_code in (403, 405)
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.location


def test_admin_creates_edits_and_deletes_a_staff_template(admin_client, practice):
    body = "Hi {{ contact.first_name }}, your paperwork link is on its way."
    assert (
        admin_client.post(
            "/admin/templates/new", data={"name": "Paperwork", "body": body, "enabled": "y"}
        ).status_code
        == 302
    )
    template = db.session.scalars(select(Template).where(Template.name == "Paperwork")).one()
    assert (template.mode, template.practice_id, template.enabled) == ("manual", practice.id, True)
    bad = admin_client.post(
        f"/admin/templates/{template.id}", data={"name": "Paperwork", "body": "{{ nope }}"}
    )
    assert bad.status_code == 400 and "unknown placeholder" in bad.get_data(as_text=True)
    template_id = template.id
    assert admin_client.post(f"/admin/templates/{template_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Template, template_id) is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("template.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["template.save", "template.delete"]


def test_a_template_messages_came_from_is_switched_off_not_deleted(
    admin_client, staff_client, practice, admin
):
    template = db.session.scalars(
        select(Template).where(Template.practice_id == practice.id, Template.mode == "manual")
    ).first()
    journey = factories.journey(factories.contact(practice))
    compose(journey, template.body, author=admin, template_id=template.id)
    db.session.commit()
    assert admin_client.post(f"/admin/templates/{template.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Template, template.id).enabled is False
    assert template.name not in staff_client.get(f"/journeys/{journey.id}").get_data(as_text=True)
    sent = staff_client.post(f"/api/journeys/{journey.id}/messages", json={"template_id": template.id})
    assert sent.status_code == 404


def test_automation_templates_cannot_be_deleted_only_switched_off(admin_client, practice):
    welcome = db.session.scalars(
        select(Template).where(Template.practice_id == practice.id, Template.trigger == "welcome")
    ).one()
    assert admin_client.post(f"/admin/templates/{welcome.id}/delete").status_code == 400
    response = admin_client.post(
        f"/admin/templates/{welcome.id}", data={"name": welcome.name, "body": welcome.body}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Template, welcome.id).enabled is False


def test_another_practices_template_is_not_found(app, admin_client):
    other = factories.practice(name="Other", number="+15005550999")
    theirs = db.session.scalars(select(Template).where(Template.practice_id == other.id)).first()
    assert admin_client.get(f"/admin/templates/{theirs.id}").status_code == 404
    assert admin_client.post(f"/admin/templates/{theirs.id}/delete").status_code == 404
    outsider_admin = factories.user(other, email="boss@other.example", role="admin")
    browser = StaffClient(app.test_client())
    browser.login(outsider_admin.email)
    assert "Calm Harbor" not in browser.get("/admin/templates").get_data(as_text=True)
