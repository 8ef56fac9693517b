"""Admin → On call (the rota, escalation minutes, staff's own numbers), Account → Phone, and Admin → Safety
alerts (the accountability record and its CSV): admins only, their own practice only, a malformed change
a 400 that says why, numbers sealed and masked, every view and export audited."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, OnCallSlot, SafetyAlert, StaffPhone
from inbox.texting import escalation, oncall, safety
from inbox.texting.risk import Assessment
from tests import ephi_watch, factories
from tests.test_safety import always_open

FINDING = Assessment("suicide", "plan_intent", "kill + self", "self")  # what the detector would say


@pytest.fixture
def people(practice):
    """Two coordinators of the practice, and one of another practice."""
    other = factories.practice(name="Elsewhere", number="+15005550099")
    return (
        factories.user(practice, email="fran@example.com", first_name="Fran", last_name="Ortiz"),
        factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Lee"),
        factories.user(other, email="outsider@example.com", first_name="Olive"),
    )


def slots(practice_id: int) -> dict[tuple[str, int], int]:
    """The stored rota, read fresh."""
    db.session.expire_all()
    rows = db.session.scalars(select(OnCallSlot).where(OnCallSlot.practice_id == practice_id))
    return {(s.shift, s.rank): s.user_id for s in rows}


def test_an_admin_sets_the_rota_minutes_and_numbers_with_the_form(admin_client, admin, practice, people):
    fran, sam, _ = people
    ephi_watch.remember("+14155550163", "4155550163")
    answer = admin_client.post(
        "/admin/on-call",
        data={
            "office_first": fran.id,
            "office_second": sam.id,
            "after_hours_first": sam.id,
            "after_hours_second": "",
            "escalation_minutes": "7",
            f"phone_{fran.id}": "(415) 555-0163",
            f"phone_{sam.id}": "",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert slots(practice.id) == {("office", 1): fran.id, ("office", 2): sam.id, ("after_hours", 1): sam.id}
    assert db.session.get(type(practice), practice.id).escalation_minutes == 7
    stored = db.session.scalar(select(StaffPhone).where(StaffPhone.user_id == fran.id))
    assert stored.phone == "+14155550163" and b"555" not in stored.phone_ct  # sealed like a contact's
    assert oncall.phone_of(sam.id) is None

    page = admin_client.get("/admin/on-call").get_data(as_text=True)
    assert "••• ••• 0163" in page and "555-0163" not in page and "4155550163" not in page
    assert f'<option value="{fran.id}" selected>Fran Ortiz</option>' in page
    assert "Olive" not in page  # nobody of another practice is offered
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "oncall.update"))
    assert event.user_id == admin.id
    assert event.detail == {
        "fields": ["office.first", "office.second", "after_hours.first", "escalation_minutes"],
        "phones_of": [fran.id],
    }
    assert "0163" not in str(event.detail)

    # A blank number box keeps the number; "remove" drops it.
    form = {"office_first": fran.id, "office_second": sam.id, "after_hours_first": sam.id}
    admin_client.post("/admin/on-call", data={**form, "escalation_minutes": "7", f"phone_{fran.id}": ""})
    assert oncall.phone_of(fran.id) == "+14155550163"
    admin_client.post(
        "/admin/on-call", data={**form, "escalation_minutes": "7", f"remove_phone_{fran.id}": "1"}
    )
    assert oncall.phone_of(fran.id) is None


def test_the_rota_as_json(admin_client, practice, people):
    fran, sam, _ = people
    answer = admin_client.post(
        "/admin/on-call",
        json={
            "slots": {"after_hours": {"first": fran.id, "second": sam.id}},
            "escalation_minutes": 3,
            "phones": {str(sam.id): "+1 415 555 0177"},
        },
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["slots"] == {
        "office": {"first": None, "second": None},
        "after_hours": {"first": fran.id, "second": sam.id},
    }
    assert body["escalation_minutes"] == 3
    assert body["phones"][str(sam.id)] == "••• ••• 0177" and body["phones"][str(fran.id)] is None
    assert "after_hours.first" in body["changed"] and f"phone.{sam.id}" in body["changed"]
    shown = admin_client.get("/admin/on-call", headers={"Accept": "application/json"}).get_json()
    assert shown["slots"] == body["slots"]


BAD_ROTAS = [
    ({"slots": {"night": {"first": None}}}, "unknown shift 'night'"),
    ({"slots": {"office": {"third": None}}}, "unknown slot 'third'"),
    ({"slots": {"office": "fran"}}, "must be an object with first and second"),
    ({"slots": ["office"]}, "slots must be an object"),
    ({"slots": {"office": {"first": "abc"}}}, "is not a staff member's id"),
    ({"slots": {"office": {"first": 2**40}}}, "is not a staff member's id"),
    ({"slots": {"office": {"first": True}}}, "is not a staff member's id"),
    ({"slots": {"office": {"first": "OUTSIDER"}}}, "no active staff member"),
    ({"slots": {"office": {"first": "FRAN", "second": "FRAN"}}}, "two different people"),
    ({"escalation_minutes": 0}, "from 1 to 60"),
    ({"escalation_minutes": 61}, "from 1 to 60"),
    ({"escalation_minutes": "five"}, "from 1 to 60"),
    ({"escalation_minutes": 2.5}, "from 1 to 60"),
    ({"escalation_minutes": True}, "from 1 to 60"),
    ({"escalation_minutes": None}, "from 1 to 60"),
    ({"phones": {"FRAN": "12"}}, "the phone of Fran Ortiz is not a valid phone number"),
    ({"phones": {"FRAN": "call me"}}, "the phone of Fran Ortiz is not a phone number"),
    ({"phones": {"FRAN": 4155550142}}, "must be text"),
    ({"phones": {"OUTSIDER": "+14155550142"}}, "no active staff member"),
    ({"phones": ["+14155550142"]}, "phones must be an object"),
    ({"shifts": {}}, "unknown field 'shifts'"),
    (["office"], "send an object"),
]


def _ids(value, people):
    """Put the people's ids where the table says FRAN or OUTSIDER."""
    names = {"FRAN": people[0].id, "OUTSIDER": people[2].id}
    if isinstance(value, dict):
        return {names.get(k, k) if k in names else k: _ids(v, people) for k, v in value.items()}
    return names.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize(("body", "error"), BAD_ROTAS, ids=[e for _, e in BAD_ROTAS])
def test_a_malformed_rota_is_a_400_that_says_why_and_stores_nothing(
    admin_client, practice, people, body, error
):
    body = _ids(body, people)
    if isinstance(body, dict) and "phones" in body and isinstance(body["phones"], dict):
        body["phones"] = {str(k): v for k, v in body["phones"].items()}
    answer = admin_client.post("/admin/on-call", json=body)
    assert answer.status_code == 400
    assert error in answer.get_json()["error"]
    assert slots(practice.id) == {} and db.session.scalar(select(StaffPhone)) is None
    assert db.session.get(type(practice), practice.id).escalation_minutes == 5


def test_malformed_json_is_a_400(admin_client, practice):
    answer = admin_client.post(
        "/admin/on-call", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"office_first": "OUTSIDER"}, "no active staff member"),
        ({"escalation_minutes": "0"}, "from 1 to 60"),
        ({"escalation_minutes": ""}, "from 1 to 60"),
        ({"PHONE_FRAN": "555"}, "is not a valid phone number"),
        ({"office_first": "FRAN", "office_second": "FRAN"}, "two different people"),
    ],
)
def test_a_malformed_form_is_a_400_page_with_the_message(admin_client, practice, people, fields, error):
    fran, _, outsider = people
    form = {"escalation_minutes": "5"}
    for key, value in fields.items():
        key = key.replace("PHONE_FRAN", f"phone_{fran.id}")
        form[key] = {"FRAN": fran.id, "OUTSIDER": outsider.id}.get(value, value)
    answer = admin_client.post("/admin/on-call", data=form)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'id="on-call-error"' in page and error in page
    assert slots(practice.id) == {}


def test_a_deactivated_person_cannot_be_put_on_call(admin_client, practice, people):
    fran = people[0]
    fran.active = False
    db.session.commit()
    answer = admin_client.post("/admin/on-call", json={"slots": {"office": {"first": fran.id}}})
    assert answer.status_code == 400 and "no active staff member" in answer.get_json()["error"]


def test_the_rota_pages_are_for_admins(staff_client, client):
    assert staff_client.get("/admin/on-call").status_code == 403
    assert staff_client.post("/admin/on-call", json={"escalation_minutes": 9}).status_code == 403
    assert staff_client.get("/admin/safety-alerts").status_code == 403
    assert staff_client.get("/admin/safety-alerts.csv").status_code == 403
    assert client.get("/admin/on-call").status_code == 302  # to the login


def test_the_admin_menu_links_both_pages(admin_client):
    page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert 'href="/admin/on-call">On call</a>' in page
    assert 'href="/admin/safety-alerts">Safety alerts</a>' in page


def test_staff_set_their_own_number_on_their_account_page(staff_client, staff):
    assert staff_client.get("/account/phone").status_code == 200
    bad = staff_client.post("/account/phone", data={"phone": "12"})
    assert bad.status_code == 400 and "not a valid phone number" in bad.get_data(as_text=True)
    assert staff_client.post("/account/phone", data={"phone": "415 555 0188"}).status_code == 302
    assert oncall.phone_of(staff.id) == "+14155550188"
    page = staff_client.get("/account/phone").get_data(as_text=True)
    assert "••• ••• 0188" in page and "555 0188" not in page
    assert staff_client.post("/account/phone", data={"remove": "1"}).status_code == 302
    assert oncall.phone_of(staff.id) is None
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == staff.id)).all()
    assert actions.count("account.phone") == 2


# --- the accountability record ------------------------------------------------------------------------


def acknowledged_alert(inbound, practice, staff_client, gateway, note="Called her, she is safe."):
    """A risk text whose first escalation step went to Dana, acknowledged by her 6 minutes later."""
    always_open(practice)
    inbound("I want to kill myself tonight", from_="+14155550142")
    alert = db.session.scalar(select(SafetyAlert))
    dana = factories.user(practice, email="oncall@example.com", first_name="Dana", last_name="Oncall")
    oncall.set_phone(dana, "+14155550101")
    db.session.add(OnCallSlot(practice_id=practice.id, shift="office", rank=1, user_id=dana.id))
    db.session.commit()
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    staff_client.post(f"/api/journeys/{alert.journey_id}/safety-ack", json={"note": note})
    db.session.expire_all()
    alert = db.session.get(SafetyAlert, alert.id)
    alert.acknowledged_at = alert.created_at + timedelta(minutes=6, seconds=30)  # a known time to ack
    db.session.commit()
    return alert


def test_the_safety_alerts_page_lists_who_was_told_who_acknowledged_and_how_long_it_took(
    inbound, practice, staff_client, admin_client, admin, gateway, fake_twilio
):
    alert = acknowledged_alert(inbound, practice, staff_client, gateway)
    inbound("I keep cutting myself", from_="+14155550177")  # a second alert, still open
    page = admin_client.get("/admin/safety-alerts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    newest, oldest = html.index('id="alert-2"'), html.index(f'id="alert-{alert.id}"')
    assert newest < oldest  # newest first
    row = html[oldest:]
    assert "Step 1 · Dana Oncall · sent" in row
    assert "Dana Reyes, " in row and "“Called her, she is safe.”" in row
    assert "6 min 30 s" in row
    assert f'href="/journeys/{alert.journey_id}"' in row
    assert "Open" in html[newest:oldest]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.report.view"))
    assert event.user_id == admin.id and event.detail["count"] == 2

    csv_answer = admin_client.get("/admin/safety-alerts.csv")
    assert csv_answer.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(csv_answer.get_data(as_text=True))))
    assert [r["alert_id"] for r in rows] == [str(alert.id), "2"]
    first = rows[0]
    assert first["note"] == "Called her, she is safe."
    assert first["acknowledged_by"] == "Dana Reyes" and first["seconds_to_acknowledge"] == "390"
    assert first["notified"].startswith("step 1 Dana Oncall sent ")
    assert first["category"] == "Suicide" and first["source"] == "Text"
    assert rows[1]["acknowledged_at"] == "" and rows[1]["seconds_to_acknowledge"] == ""
    export = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.report.export"))
    assert export.detail == {"rows": 2}


def test_one_alerts_record_and_another_practices_is_a_404(
    inbound, practice, staff_client, admin_client, gateway, fake_twilio
):
    alert = acknowledged_alert(inbound, practice, staff_client, gateway)
    page = admin_client.get(f"/admin/safety-alerts/{alert.id}")
    assert page.status_code == 200 and "Called her, she is safe." in page.get_data(as_text=True)
    other = factories.practice(name="Elsewhere", number="+15005550099")
    contact = factories.contact(other, phone="+14155550199")
    journey = factories.journey(contact)
    msg = factories.message(journey, "I want to die")
    db.session.commit()
    safety.raise_alert(contact, journey, msg, FINDING)
    db.session.commit()
    theirs = db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.practice_id == other.id))
    assert admin_client.get(f"/admin/safety-alerts/{theirs}").status_code == 404
    listed = admin_client.get("/admin/safety-alerts").get_data(as_text=True)
    assert f'id="alert-{theirs}"' not in listed
    exported = admin_client.get("/admin/safety-alerts.csv").get_data(as_text=True)
    assert "+14155550199" not in exported and len(exported.strip().splitlines()) == 2


def test_the_record_pages_through_older_alerts(inbound, practice, admin_client, monkeypatch):
    from inbox.web.admin import alerts

    monkeypatch.setattr(alerts, "PAGE", 2)
    always_open(practice)
    for n in range(3):
        inbound("kms", from_=f"+1415555016{n}")
    first = admin_client.get("/admin/safety-alerts").get_data(as_text=True)
    assert 'id="alert-3"' in first and 'id="alert-2"' in first and 'id="alert-1"' not in first
    assert 'href="/admin/safety-alerts?before=2"' in first
    older = admin_client.get("/admin/safety-alerts?before=2").get_data(as_text=True)
    assert 'id="alert-1"' in older and 'id="alert-2"' not in older
    assert admin_client.get("/admin/safety-alerts?before=abc").status_code == 400
