"""The crisis safety net: the detector's first table both ways, the alert and its acknowledgement, and the
after-hours safety reply (once per contact in 12 hours, never in office hours or to an opted-out number)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from inbox.extensions import db, socketio
from inbox.models import AuditEvent, Contact, Message, SafetyAlert, Template, utcnow
from inbox.texting import consent, risk, safety
from inbox.vocabulary import RISK_CATEGORIES, RISK_LEVELS, ConsentState
from tests import factories

RISKY = [
    ("I want to kill myself tonight", "suicide"),
    ("i dont want to be alive anymore", "suicide"),
    ("I don't want to be alive", "suicide"),
    ("I don’t want to wake up tomorrow", "suicide"),
    ("honestly kms", "suicide"),
    ("Im going to kil myslef", "suicide"),
    ("I wanna die", "suicide"),
    ("everyone would be better off without me", "suicide"),
    ("thinking about ending it all", "suicide"),
    ("I have been having SUICIDAL thoughts", "suicide"),
    ("I'm going to take all my pills", "suicide"),
    ("I wish I was dead", "suicide"),
    ("I keep cutting myself", "self_harm"),
    ("i hurt my self again last night", "self_harm"),
    ("self-harm is getting worse", "self_harm"),
    ("I'm going to hurt someone", "harm_others"),
    ("I could kill my husband", "harm_others"),
    ("my boyfriend hits me", "abuse"),
    ("I was raped last year", "abuse"),
    ("I'm not safe at home", "abuse"),
    ("quiero morirme", "suicide"),
    ("Me quiero morir", "suicide"),
    ("ya no quiero vivir", "suicide"),
    ("No quiero vivir más", "suicide"),
    ("pienso en quitarme la vida", "suicide"),
    ("a veces me corto", "self_harm"),
    ("mi esposo me pega", "abuse"),
]

# Plain texts of an intake inbox, idioms included: "dying to", "killing me" and "kill for" are how
# people talk about waiting lists, not about harm, and flagging them would teach staff to ignore flags.
PLAIN = [
    "can I reschedule my appointment",
    "my insurance card is attached",
    "I'm dying to get in this week",
    "this wait is killing me lol",
    "I'd kill for an evening slot",
    "I hurt my back, can we do telehealth?",
    "I don't want to hurt her feelings but my daughter won't come",
    "I dont want to live with my mom anymore, can we talk about that in session",
    "I'm seeking help for substance abuse",
    "STOP",
    "HELP",
    "What time is my session tomorrow?",
    "Is Dr. Patel taking new clients?",
    "quiero cambiar mi cita",
    "necesito reprogramar para el martes",
    "",
]


@pytest.mark.parametrize(("text", "category"), RISKY)
def test_risk_language_is_flagged(text, category):
    assert risk.risk_category(text) == category


@pytest.mark.parametrize("text", PLAIN)
def test_plain_texts_are_not_flagged(text):
    assert risk.risk_category(text) is None


def test_a_rule_that_does_not_compile_stops_the_start():
    rules = [
        risk.Rule("abuse", "abuse", "cue", r"\bok\b"),
        risk.Rule("suicide", "attempt", "cue", r"\b(unclosed"),
    ]
    with pytest.raises(risk.PhraseTableError, match="rule 1 .*suicide"):
        risk.compile_table(rules)


def test_a_rule_that_does_not_start_at_a_word_stops_the_start():
    with pytest.raises(risk.PhraseTableError, match="rule 0 .*must start at a word"):
        risk.compile_table([risk.Rule("suicide", "active_thoughts", "cue", r"kms\b")])


def test_every_rule_compiles_with_a_level_the_vocabulary_names():
    assert len(risk.TABLE) == len(risk.RULES)
    assert {entry.rule.level for entry in risk.TABLE} <= set(RISK_LEVELS)
    assert {entry.rule.category for entry in risk.TABLE} == set(RISK_CATEGORIES)


# --- office hours -------------------------------------------------------------------------------


def always_open(practice) -> None:
    """Office hours every day, all day: nothing is after hours."""
    practice.office_days, practice.office_start, practice.office_end, practice.holidays = (
        "1234567",
        0,
        1440,
        [],
    )
    db.session.commit()


def never_open(practice) -> None:
    """No office days at all: every text is after hours."""
    practice.office_days = ""
    db.session.commit()


def test_office_hours_default_to_weekdays_eight_to_six_in_the_practice_zone(practice):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    monday_morning = datetime(2026, 11, 30, 9, 0, tzinfo=ny)
    assert safety.in_office_hours(practice, monday_morning)
    assert not safety.in_office_hours(practice, monday_morning.replace(hour=7, minute=59))
    assert not safety.in_office_hours(practice, monday_morning.replace(hour=18))
    assert not safety.in_office_hours(practice, datetime(2026, 11, 28, 12, 0, tzinfo=ny))  # a Saturday
    practice.holidays = ["2026-11-30"]
    assert not safety.in_office_hours(practice, monday_morning)


# --- the webhook ---------------------------------------------------------------------------------


def replies(contact_id: int | None = None) -> list[Message]:
    """Safety replies in the threads, read fresh."""
    db.session.expire_all()
    return [
        m
        for m in db.session.scalars(select(Message).where(Message.kind == "keyword_reply"))
        if m.flags.get("safety_reply")
    ]


def test_risk_text_is_flagged_alerted_and_pushed_in_the_webhook_transaction(
    app, inbound, practice, staff_client
):
    always_open(practice)
    sock = socketio.test_client(app, flask_test_client=staff_client.client)
    answer = inbound("I want to kill myself tonight", from_="+14155550142")
    assert answer.status_code == 200
    msg = db.session.scalar(select(Message).where(Message.kind == "inbound"))
    assert msg.flags["risk"] is True
    alert = db.session.scalar(select(SafetyAlert))
    assert (alert.message_id, alert.journey_id, alert.acknowledged_at) == (msg.id, msg.journey_id, None)
    [pushed] = [e["args"][0] for e in sock.get_received() if e["name"] == "safety.alert"]
    assert (pushed["journey_id"], pushed["message_id"]) == (msg.journey_id, msg.id)
    assert "Suicide" in pushed["snippet"]
    # In office hours: no safety reply, only the opt-in request the new number gets anyway.
    assert "988" not in answer.get_data(as_text=True)
    assert replies() == []
    sock.disconnect()


def test_a_replayed_risk_webhook_alerts_once(inbound, practice):
    # No worker runs in these tests: the alert is the webhook's own work, not a background job's.
    never_open(practice)
    inbound("kms", from_="+14155550142", sid="SM" + "b" * 32)
    inbound("kms", from_="+14155550142", sid="SM" + "b" * 32)
    assert db.session.scalar(select(db.func.count()).select_from(SafetyAlert)) == 1
    assert len(replies()) == 1


def test_plain_text_raises_nothing(inbound, practice):
    never_open(practice)
    inbound("can I reschedule my appointment")
    assert db.session.scalar(select(SafetyAlert)) is None
    assert replies() == []
    msg = db.session.scalar(select(Message).where(Message.kind == "inbound"))
    assert "risk" not in msg.flags


def test_popup_without_ephi_carries_initials_and_pathway_only(app, inbound, practice, staff_client):
    practice.ephi_in_popups = False
    always_open(practice)
    journey = factories.journey(factories.contact(practice, phone="+14155550142"))
    sock = socketio.test_client(app, flask_test_client=staff_client.client)
    inbound("I keep cutting myself", from_="+14155550142")
    [pushed] = [e["args"][0] for e in sock.get_received() if e["name"] == "safety.alert"]
    assert pushed["title"] == "ML"
    assert pushed["snippet"] == "Safety alert · Intake"
    listed = staff_client.get("/api/safety-alerts").get_json()
    assert listed["count"] == 1 and listed["alerts"][0]["journey_id"] == journey.id
    assert "cutting" not in str(listed) and "Maria" not in str(listed)
    sock.disconnect()


def test_after_hours_reply_goes_once_in_twelve_hours(inbound, practice, monkeypatch):
    never_open(practice)
    first = inbound("i dont want to be alive", from_="+14155550142")
    assert "988" in first.get_data(as_text=True) and "911" in first.get_data(as_text=True)
    second = inbound("kms", from_="+14155550142")
    assert "988" not in second.get_data(as_text=True)
    assert len(replies()) == 1
    assert db.session.scalar(select(db.func.count()).select_from(SafetyAlert)) == 2  # each text alerts

    later = utcnow() + timedelta(hours=12, minutes=1)
    monkeypatch.setattr(safety, "utcnow", lambda: later)
    third = inbound("quiero morirme", from_="+14155550142")
    assert "988" in third.get_data(as_text=True)
    assert len(replies()) == 2


def test_no_safety_reply_in_office_hours(inbound, practice):
    always_open(practice)
    assert "988" not in inbound("I wanna die", from_="+14155550142").get_data(as_text=True)
    assert replies() == []
    assert db.session.scalar(select(SafetyAlert)) is not None


def test_a_holiday_counts_as_out_of_hours(inbound, practice):
    always_open(practice)
    from zoneinfo import ZoneInfo

    practice.holidays = [utcnow().astimezone(ZoneInfo(practice.timezone)).date().isoformat()]
    db.session.commit()
    assert "988" in inbound("I wanna die", from_="+14155550142").get_data(as_text=True)
    assert len(replies()) == 1


def test_opted_out_number_gets_no_reply_but_staff_are_alerted(inbound, practice):
    never_open(practice)
    contact = factories.contact(practice, phone="+14155550142")
    factories.journey(contact)
    consent.record(contact, ConsentState.OPTED_OUT, "sms_keyword", evidence="STOP")
    db.session.commit()
    assert "988" not in inbound("I want to die", from_="+14155550142").get_data(as_text=True)
    assert replies() == []
    assert db.session.scalar(select(SafetyAlert)) is not None


def test_reply_is_not_held_for_consent_and_uses_the_practice_wording(inbound, practice):
    never_open(practice)
    practice.safety_reply_text = "{{ practice.name }}: call 988 or 911 now."
    db.session.commit()
    answer = inbound("thinking about ending it all", from_="+14155550142")
    assert "Calm Harbor Therapy: call 988 or 911 now." in answer.get_data(as_text=True)
    [reply] = replies()
    assert reply.status == "sent"


# --- acknowledgement ------------------------------------------------------------------------------


def test_acknowledging_closes_the_alert_audits_and_tells_every_tab(
    app, inbound, practice, staff, staff_client
):
    always_open(practice)
    sock = socketio.test_client(app, flask_test_client=staff_client.client)
    inbound("I want to kill myself tonight", from_="+14155550142")
    [alert] = staff_client.get("/api/safety-alerts").get_json()["alerts"]
    journey_id = alert["journey_id"]
    sock.get_received()

    answer = staff_client.post(f"/api/journeys/{journey_id}/safety-ack", json={"note": "Called her, safe."})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["message_ids"] == [alert["message_id"]]
    assert staff_client.get("/api/safety-alerts").get_json() == {"alerts": [], "count": 0}

    db.session.expire_all()
    stored = db.session.scalar(select(SafetyAlert))
    assert stored.acknowledged_by_id == staff.id and stored.acknowledged_at is not None
    line = db.session.get(Message, stored.ack_line_id)
    assert line.body == "Dana Reyes acknowledged the safety alert: Called her, safe."
    assert line.body_ct and b"Called" not in line.body_ct  # the note is sealed like a message body
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.acknowledge"))
    assert event.user_id == staff.id and event.target_id == journey_id
    assert event.detail == {"message_ids": [alert["message_id"]], "with_note": True}
    [pushed] = [e["args"][0] for e in sock.get_received() if e["name"] == "safety.acknowledged"]
    assert pushed["journey_id"] == journey_id and pushed["acknowledged_by"] == "Dana Reyes"

    again = staff_client.post(f"/api/journeys/{journey_id}/safety-ack", json={})
    assert again.status_code == 409 and "no open safety alert" in again.get_json()["error"]
    sock.disconnect()


def test_inbox_list_marks_a_journey_with_an_open_alert_until_it_is_acknowledged(
    inbound, practice, staff_client
):
    always_open(practice)
    inbound("I want to kill myself tonight", from_="+14155550142")
    inbound("Can I move my appointment?", from_="+14155550143")
    flagged = db.session.scalar(select(SafetyAlert.journey_id))

    def marks() -> dict[int, bool]:
        return {j["id"]: j["safety_open"] for j in staff_client.get("/api/journeys").get_json()["journeys"]}

    shown = marks()
    assert shown[flagged] is True and list(shown.values()).count(True) == 1
    page = staff_client.get("/").get_data(as_text=True)  # the server-rendered row, for a reload
    marker = 'class="tag tag-safety journey-safety"'
    assert page.count(marker) == 3  # two rows and the row template
    assert page.count(f"{marker} hidden") == 2  # shown on the flagged row only

    assert staff_client.post(f"/api/journeys/{flagged}/safety-ack", json={}).status_code == 200
    assert set(marks().values()) == {False}


@pytest.mark.parametrize("body", [{"note": 7}, {"note": ["x"]}, {"note": "x" * 1001}, ["note"]], ids=repr)
def test_acknowledgement_refuses_bad_notes(inbound, practice, staff_client, body):
    always_open(practice)
    inbound("kms", from_="+14155550142")
    journey_id = db.session.scalar(select(SafetyAlert.journey_id))
    answer = staff_client.post(f"/api/journeys/{journey_id}/safety-ack", json=body)
    assert answer.status_code == 400 and answer.get_json()["error"]
    assert db.session.scalar(select(SafetyAlert.acknowledged_at)) is None


def test_another_practices_journey_is_a_404(inbound, practice, staff_client):
    other = factories.practice(name="Elsewhere", number="+15005550099")
    journey = factories.journey(factories.contact(other, phone="+14155550177"))
    assert staff_client.post(f"/api/journeys/{journey.id}/safety-ack", json={}).status_code == 404


# --- settings ---------------------------------------------------------------------------------------


def test_admin_sets_office_hours_holidays_and_the_safety_reply(admin_client, practice):
    from tests.test_settings import save

    page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert "988 (Suicide &amp; Crisis Lifeline)" in page
    assert re.search(r'<input checked[^>]*name="office_1"', page) and not re.search(
        r'<input checked[^>]*name="office_6"', page
    )
    answer = save(
        admin_client,
        office_6="y",
        office_1=None,
        office_start="09:30",
        office_end="17:00",
        holidays="2026-12-25\n2026-12-24, 2026-12-25",
        safety_reply_text="{{ practice.name }}: not read after hours. Call 988, or 911 in an emergency.",
    )
    assert answer.status_code == 302
    db.session.expire_all()
    assert (practice.office_days, practice.office_start, practice.office_end) == ("23456", 570, 1020)
    assert practice.holidays == ["2026-12-24", "2026-12-25"]
    assert practice.safety_reply_text.startswith("{{ practice.name }}: not read")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.update"))
    assert {"office_days", "holidays", "safety_reply_text"} <= set(event.detail["fields"])


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"holidays": "Christmas"}, "is not a date like 2026-12-25"),
        ({"safety_reply_text": "We are closed, call 911."}, "mention 988"),
        ({"office_start": "18:00", "office_end": "08:00"}, "must end after they start"),
    ],
)
def test_bad_office_hours_and_safety_wording_are_refused(admin_client, practice, changes, error):
    from tests.test_settings import save

    answer = save(admin_client, **changes)
    assert answer.status_code == 400 and error in answer.get_data(as_text=True)
    db.session.expire_all()
    assert practice.holidays == [] and practice.safety_reply_text is None and practice.office_start == 480


def test_welcome_and_help_say_texts_are_not_monitored(inbound, practice):
    answer = inbound("HELP", from_="+14155550142").get_data(as_text=True)
    assert "not monitored 24/7; in an emergency call 911 or 988" in answer
    welcome = db.session.scalar(
        select(Template).where(Template.practice_id == practice.id, Template.trigger == "welcome")
    )
    assert "not monitored 24/7; in an emergency call 911 or 988" in welcome.body


def test_a_moved_risk_text_takes_its_alert_along(inbound, practice, staff_client):
    always_open(practice)
    contact = factories.contact(practice, phone="+14155550142")
    first = factories.journey(contact)
    inbound("I wanna die", from_="+14155550142")
    second = factories.journey(contact, pathway="current")
    msg_id = db.session.scalar(select(SafetyAlert.message_id))
    assert (
        staff_client.post(f"/api/messages/{msg_id}/move", json={"journey_id": second.id}).status_code == 200
    )
    [alert] = staff_client.get("/api/safety-alerts").get_json()["alerts"]
    assert alert["journey_id"] == second.id != first.id
    assert staff_client.post(f"/api/journeys/{second.id}/safety-ack", json={}).status_code == 200


def test_a_night_conversation_walks_the_detector_with_consent_and_the_reply_rules(
    inbound, practice, monkeypatch
):
    """One person's evening, as the webhook sees it: logistics, a denial, a disclosure, STOP, another
    disclosure while opted out, START, and another after the 12 hours."""
    never_open(practice)

    def alerts() -> list[SafetyAlert]:
        db.session.expire_all()
        return list(db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)))

    def texted(body: str) -> str:
        return inbound(body, from_="+14155550142").get_data(as_text=True)

    assert "988" not in texted("hi, do you have anything this week? evenings are best")
    assert "988" not in texted("i dont want to die or anything, i just cant sleep")
    assert alerts() == []  # the denial is read as one

    assert "988" in texted("honestly i took a bunch of my pills an hour ago")
    [first] = alerts()
    assert (first.category, first.level, first.about) == ("suicide", "attempt", "self")
    contact = db.session.get(Contact, first.contact_id)

    texted("STOP")
    db.session.refresh(contact)
    assert contact.consent_state == ConsentState.OPTED_OUT
    assert "988" not in texted("im sorry. i keep thinking about ending it all")  # opted out: no reply
    assert len(alerts()) == 2 and len(replies()) == 1  # but staff are told

    texted("START")
    db.session.refresh(contact)
    assert contact.consent_state != ConsentState.OPTED_OUT
    assert "988" not in texted("mejor me muero")  # back in, but one reply in 12 hours
    later = utcnow() + timedelta(hours=12, minutes=1)
    monkeypatch.setattr(safety, "utcnow", lambda: later)
    assert "988" in texted("ya no quiero estar en este mundo")
    assert len(alerts()) == 4 and len(replies()) == 2


def test_a_repeated_risk_text_repeats_the_safety_reply_its_lost_answer_carried(inbound, practice):
    never_open(practice)
    sid = "SM" + uuid.uuid4().hex
    first = inbound("i took 30 pills an hour ago", sid=sid)
    assert b"<Message " in first.data and b"988" in first.data
    second = inbound("i took 30 pills an hour ago", sid=sid)
    assert second.data == first.data
    assert len(db.session.scalars(select(Message).where(Message.kind == "keyword_reply")).all()) == 1
