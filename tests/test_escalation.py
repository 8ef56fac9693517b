"""Escalation of an unacknowledged safety alert by text to the on-call rota's own phones: each step at its
time (a frozen clock: `now` is passed), who gets it, what it says (no ePHI), what a crash or a second
worker does to it, status callbacks, and acknowledging it stopping the chain."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from inbox.extensions import db, socketio
from inbox.gateway.rest import TwilioGateway
from inbox.models import OnCallSlot, SafetyAlert, SafetyEscalation
from inbox.texting import escalation, oncall
from inbox.texting.wording import ESCALATION_TEXT
from tests import ephi_watch, factories
from tests.conftest import PG_URL, PUBLIC_URL, signed_post
from tests.test_safety import always_open, never_open

TEXT = ESCALATION_TEXT.replace("{{ practice.name }}", "Calm Harbor Therapy")
PHONES = {
    "fran": "+14155550101",
    "sam": "+14155550102",
    "nia": "+14155550103",
    "avery": "+14155550104",
    "gone": "+14155550105",
}


@pytest.fixture
def team(practice, admin):
    """Office hours: Fran first, Sam second; after hours: Nia first, Sam second. Two admins (Avery, and
    one deactivated); everyone has their own phone."""
    people = SimpleNamespace(
        fran=factories.user(practice, email="fran@example.com", first_name="Fran", last_name="Ortiz"),
        sam=factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Lee"),
        nia=factories.user(practice, email="nia@example.com", first_name="Nia", last_name="Park"),
        avery=admin,
        gone=factories.user(practice, email="gone@example.com", role="admin", first_name="Gil", active=False),
    )
    for name, number in PHONES.items():
        oncall.set_phone(getattr(people, name), number)
        ephi_watch.remember(number)  # staff's own numbers are sealed: never in a log line either
    for shift, first in (("office", people.fran), ("after_hours", people.nia)):
        db.session.add(OnCallSlot(practice_id=practice.id, shift=shift, rank=1, user_id=first.id))
        db.session.add(OnCallSlot(practice_id=practice.id, shift=shift, rank=2, user_id=people.sam.id))
    db.session.commit()
    return people


def crisis(inbound, text="I want to kill myself tonight", from_="+14155550142") -> SafetyAlert:
    """A risk text through the real webhook; its alert, read fresh."""
    inbound(text, from_=from_)
    db.session.expire_all()
    return db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id.desc())).first()


def texted(fake_twilio) -> list[str]:
    """The staff numbers escalation texts went to, in order (not the patient's opt-in request, which a
    test running the whole worker pass sends too)."""
    return [s["to"] for s in fake_twilio.sent if s["to"] in PHONES.values()]


def steps(alert_id: int) -> list[tuple[int, int, str]]:
    """(step, user id, status) of an alert's escalation rows, read fresh."""
    db.session.expire_all()
    rows = db.session.scalars(
        select(SafetyEscalation).where(SafetyEscalation.alert_id == alert_id).order_by(SafetyEscalation.id)
    )
    return [(r.step, r.user_id, r.status) for r in rows]


def test_steps_text_the_first_then_the_second_then_every_active_admin_at_their_times(
    app, inbound, practice, team, gateway, fake_twilio, staff_client
):
    always_open(practice)
    alert = crisis(inbound)
    start = alert.created_at
    assert alert.escalate_at == start + timedelta(minutes=5)
    sock = socketio.test_client(app, flask_test_client=staff_client.client)

    assert escalation.run_due(gateway, start + timedelta(minutes=4, seconds=59)) == 0
    assert escalation.run_due(gateway, start + timedelta(minutes=5)) == 1
    assert texted(fake_twilio) == [PHONES["fran"]]
    assert escalation.run_due(gateway, start + timedelta(minutes=9)) == 0  # nothing twice
    assert escalation.run_due(gateway, start + timedelta(minutes=10)) == 1
    assert texted(fake_twilio) == [PHONES["fran"], PHONES["sam"]]
    assert escalation.run_due(gateway, start + timedelta(minutes=15)) == 1
    # Every active admin: Avery, not the deactivated one (nor the staff who are not admins).
    assert texted(fake_twilio) == [PHONES["fran"], PHONES["sam"], PHONES["avery"]]
    assert escalation.run_due(gateway, start + timedelta(hours=5)) == 0

    assert steps(alert.id) == [
        (1, team.fran.id, "sent"),
        (2, team.sam.id, "sent"),
        (3, team.avery.id, "sent"),
    ]
    stored = db.session.get(SafetyAlert, alert.id)
    assert (stored.escalation_step, stored.escalate_at) == (3, None)
    sent = fake_twilio.sent[0]
    assert sent["from_"] == "+15005550006"  # the practice's Twilio number
    assert sent["status_callback"] == f"{PUBLIC_URL}/twilio/status?e={stored.escalations[0].id}"
    assert [r.twilio_sid for r in stored.escalations] == [s["sid"] for s in fake_twilio.sent]

    # Each step told every open card, with the alert's steps so far.
    pushed = [e["args"][0] for e in sock.get_received() if e["name"] == "safety.updated"]
    assert pushed and pushed[-1]["message_id"] == alert.message_id
    assert [(s["step"], s["to"], s["status"]) for s in pushed[-1]["escalations"]] == [
        (1, "Fran Ortiz", "sent"),
        (2, "Sam Lee", "sent"),
        (3, "Avery Kim", "sent"),
    ]
    assert pushed[-1]["next_escalation_at"] is None
    sock.disconnect()


def test_after_hours_the_after_hours_rota_is_texted(inbound, practice, team, gateway, fake_twilio):
    never_open(practice)
    alert = crisis(inbound)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    assert texted(fake_twilio) == [PHONES["nia"]]


def test_the_minutes_are_the_practices_setting(inbound, practice, team, gateway, fake_twilio):
    always_open(practice)
    practice.escalation_minutes = 2
    db.session.commit()
    alert = crisis(inbound)
    assert escalation.run_due(gateway, alert.created_at + timedelta(minutes=2)) == 1
    assert escalation.run_due(gateway, alert.created_at + timedelta(minutes=4)) == 1
    assert texted(fake_twilio) == [PHONES["fran"], PHONES["sam"]]


def test_escalation_texts_carry_no_patient_data(inbound, practice, team, gateway, fake_twilio):
    always_open(practice)
    factories.contact(practice, phone="+14155550142", first_name="Rosalind", last_name="Quist")
    alert = crisis(inbound, text="I keep cutting myself")
    for minutes in (5, 10, 15):
        escalation.run_due(gateway, alert.created_at + timedelta(minutes=minutes))
    bodies = [s["body"] for s in fake_twilio.sent]
    assert bodies == [TEXT] * 3
    assert TEXT == "A safety alert at Calm Harbor Therapy is waiting. Open Intake Inbox."
    for private in ("Rosalind", "Quist", "4155550142", "0142", "cutting", "Self-harm", "self_harm"):
        assert not any(private in body for body in bodies)


def test_acknowledging_stops_the_chain(inbound, practice, team, gateway, fake_twilio, staff_client):
    always_open(practice)
    alert = crisis(inbound)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    answer = staff_client.post(f"/api/journeys/{alert.journey_id}/safety-ack", json={"note": "Called her."})
    assert answer.status_code == 200
    db.session.expire_all()
    assert db.session.get(SafetyAlert, alert.id).escalate_at is None
    for minutes in (10, 15, 60):
        assert escalation.run_due(gateway, alert.created_at + timedelta(minutes=minutes)) == 0
    assert texted(fake_twilio) == [PHONES["fran"]]


def test_an_alert_acknowledged_before_any_step_texts_nobody(
    inbound, practice, team, gateway, fake_twilio, staff_client
):
    always_open(practice)
    alert = crisis(inbound)
    staff_client.post(f"/api/journeys/{alert.journey_id}/safety-ack", json={})
    assert escalation.run_due(gateway, alert.created_at + timedelta(hours=1)) == 0
    assert fake_twilio.sent == [] and steps(alert.id) == []


def test_someone_without_a_phone_is_skipped_visibly_and_the_chain_goes_on_at_once(
    inbound, practice, team, gateway, fake_twilio
):
    always_open(practice)
    oncall.set_phone(team.fran, None)
    db.session.commit()
    alert = crisis(inbound)
    # Nobody could be texted at step 1, so step 2 goes in the same pass rather than N minutes later.
    assert escalation.run_due(gateway, alert.created_at + timedelta(minutes=5)) == 1
    assert texted(fake_twilio) == [PHONES["sam"]]
    assert steps(alert.id) == [(1, team.fran.id, "skipped"), (2, team.sam.id, "sent")]
    assert db.session.get(SafetyAlert, alert.id).escalations[0].error == "No phone on file"
    assert escalation.run_due(gateway, alert.created_at + timedelta(minutes=10)) == 1
    assert texted(fake_twilio)[-1] == PHONES["avery"]


def test_a_deactivated_person_on_the_rota_is_never_texted(inbound, practice, team, gateway, fake_twilio):
    always_open(practice)
    team.fran.active = False
    db.session.commit()
    alert = crisis(inbound)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    assert PHONES["fran"] not in texted(fake_twilio)
    assert steps(alert.id)[0] == (1, team.fran.id, "skipped")


def test_an_empty_rota_goes_straight_to_the_admins(inbound, practice, team, gateway, fake_twilio):
    always_open(practice)
    db.session.execute(OnCallSlot.__table__.delete())
    db.session.commit()
    alert = crisis(inbound)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    assert texted(fake_twilio) == [PHONES["avery"]]
    assert db.session.get(SafetyAlert, alert.id).escalate_at is None


# --- durability ----------------------------------------------------------------------------------


def test_a_worker_killed_after_claiming_a_step_neither_loses_nor_repeats_its_text(
    inbound, practice, team, gateway, fake_twilio, monkeypatch
):
    always_open(practice)
    alert = crisis(inbound)
    due = alert.created_at + timedelta(minutes=5)

    def killed(*args):
        raise SystemExit("worker killed")  # after the step's commit, before any text was handed over

    with monkeypatch.context() as patch:
        patch.setattr(escalation, "_send", killed)
        with pytest.raises(SystemExit):
            escalation.run_due(gateway, due)
    db.session.rollback()
    assert steps(alert.id) == [(1, team.fran.id, "sending")]  # the claim and its row were committed

    # A fresh worker leaves a text another worker may still be sending alone until its lease ends...
    assert escalation.run_due(gateway, due + timedelta(seconds=30)) == 0
    assert fake_twilio.sent == []
    # ...then sends it, once; the step itself is not taken again.
    assert escalation.run_due(gateway, due + escalation.LEASE + timedelta(seconds=1)) == 1
    assert escalation.run_due(gateway, due + escalation.LEASE + timedelta(seconds=2)) == 0
    assert texted(fake_twilio) == [PHONES["fran"]]
    assert steps(alert.id) == [(1, team.fran.id, "sent")]
    # The next step keeps its time.
    assert escalation.run_due(gateway, due + timedelta(minutes=5)) == 1
    assert texted(fake_twilio) == [PHONES["fran"], PHONES["sam"]]


def test_a_text_claimed_but_not_sent_before_the_acknowledgement_is_skipped(
    inbound, practice, team, gateway, fake_twilio, staff_client
):
    always_open(practice)
    alert = crisis(inbound)
    due = alert.created_at + timedelta(minutes=5)
    escalation._take_step(alert.id, 0, alert.escalate_at, due)  # claimed; the worker then died
    staff_client.post(f"/api/journeys/{alert.journey_id}/safety-ack", json={})
    assert escalation.run_due(gateway, due + escalation.LEASE + timedelta(seconds=1)) == 0
    assert fake_twilio.sent == []
    assert steps(alert.id) == [(1, team.fran.id, "skipped")]
    assert db.session.get(SafetyAlert, alert.id).escalations[0].error.startswith("Not sent: the alert was")


def test_a_worker_killed_after_handing_a_text_over_marks_it_ambiguous_not_resent(
    inbound, practice, team, gateway, fake_twilio, monkeypatch
):
    always_open(practice)
    alert = crisis(inbound)
    due = alert.created_at + timedelta(minutes=5)

    def dies_in_flight(**kwargs):
        raise SystemExit("worker killed")  # the text was handed over (committed), no answer recorded

    with monkeypatch.context() as patch:
        patch.setattr(gateway, "send_message", dies_in_flight)
        with pytest.raises(SystemExit):
            escalation.run_due(gateway, due)
    db.session.rollback()
    assert escalation.run_due(gateway, due + escalation.LEASE + timedelta(seconds=1)) == 0
    assert steps(alert.id) == [(1, team.fran.id, "ambiguous")]
    assert db.session.get(SafetyAlert, alert.id).escalations[0].error == escalation.AMBIGUOUS
    assert fake_twilio.sent == []  # never resent blindly
    assert escalation.run_due(gateway, due + timedelta(minutes=5)) == 1  # the chain goes on
    assert texted(fake_twilio) == [PHONES["sam"]]


def test_an_ambiguous_send_is_not_resent_and_its_late_callback_confirms_it(
    client, inbound, practice, team, fake_twilio, app_env
):
    always_open(practice)
    gateway = TwilioGateway(
        fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url, timeout=0.3
    )
    alert = crisis(inbound)
    fake_twilio.drop_next_after_receipt(close=True)
    due = alert.created_at + timedelta(minutes=5)
    assert escalation.run_due(gateway, due) == 0
    assert steps(alert.id) == [(1, team.fran.id, "ambiguous")]
    assert escalation.run_due(gateway, due + timedelta(minutes=2)) == 0
    assert len(fake_twilio.sent) == 1
    sent = fake_twilio.sent[0]
    params = fake_twilio.status_callback_params(sent["sid"], "delivered")
    url = sent["status_callback"]
    answer = signed_post(client, url[len(PUBLIC_URL) :], params, app_env["TWILIO_AUTH_TOKEN"], url=url)
    assert answer.status_code == 204
    db.session.expire_all()
    row = db.session.get(SafetyAlert, alert.id).escalations[0]
    assert (row.status, row.twilio_sid, row.error) == ("delivered", sent["sid"], None)


def test_two_workers_that_both_saw_a_step_due_take_it_once(inbound, practice, team, gateway, fake_twilio):
    always_open(practice)
    alert = crisis(inbound)
    now = alert.created_at + timedelta(minutes=5)
    seen = (alert.id, alert.escalation_step, alert.escalate_at)  # what both workers read as due
    first = escalation._take_step(*seen, now)
    second = escalation._take_step(*seen, now)
    assert len(first) == 1 and second == []
    assert escalation._send(gateway, first, now) == 1
    assert escalation._send(gateway, first, now) == 0  # the hand-over is a compare-and-set too
    # And whole passes racing on the same clock at the next step: one text again.
    later = now + timedelta(minutes=5)
    assert escalation.run_due(gateway, later) + escalation.run_due(gateway, later) == 1
    assert texted(fake_twilio) == [PHONES["fran"], PHONES["sam"]]
    assert steps(alert.id) == [(1, team.fran.id, "sent"), (2, team.sam.id, "sent")]


@pytest.mark.skipif(not PG_URL, reason="real concurrent writers need PostgreSQL (SQLite serialises them)")
def test_two_worker_threads_racing_on_postgresql_send_each_text_once(
    app, inbound, practice, team, gateway, fake_twilio, monkeypatch
):
    always_open(practice)
    alert = crisis(inbound)
    now = alert.created_at + timedelta(minutes=5)
    both_saw_it = threading.Barrier(2, timeout=10)
    take_step = escalation._take_step

    def in_step(*args):
        both_saw_it.wait()  # each worker read the alert as due before either claims it
        return take_step(*args)

    monkeypatch.setattr(escalation, "_take_step", in_step)

    def worker() -> int:
        with app.app_context():
            try:
                return escalation.run_due(gateway, now)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(2) as pool:
        results = sorted(f.result() for f in [pool.submit(worker), pool.submit(worker)])
    assert results == [0, 1]
    assert texted(fake_twilio) == [PHONES["fran"]]
    assert steps(alert.id) == [(1, team.fran.id, "sent")]


def test_a_failed_send_is_recorded_with_its_reason_and_the_chain_goes_on(
    inbound, practice, team, gateway, fake_twilio
):
    always_open(practice)
    alert = crisis(inbound)
    fake_twilio.fail_next(400, code=21614)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    row = db.session.get(SafetyAlert, alert.id).escalations[0]
    assert row.status == "failed" and row.error == "The number is not a mobile number that can receive texts."
    assert escalation.run_due(gateway, alert.created_at + timedelta(minutes=10)) == 1


# --- status callbacks --------------------------------------------------------------------------------


def test_status_callbacks_update_an_escalation_text_forward_only(
    client, inbound, practice, team, gateway, fake_twilio, app_env
):
    always_open(practice)
    alert = crisis(inbound)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    sid = fake_twilio.sent[0]["sid"]
    token = app_env["TWILIO_AUTH_TOKEN"]
    for status in ("delivered", "sent", "queued"):  # plain callbacks (no ?e=): found by their SID
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": fake_twilio.account_sid}
        assert signed_post(client, "/twilio/status", params, token).status_code == 204
    assert steps(alert.id) == [(1, team.fran.id, "delivered")]


def test_an_undelivered_escalation_text_shows_why(
    client, inbound, practice, team, gateway, fake_twilio, app_env
):
    always_open(practice)
    alert = crisis(inbound)
    escalation.run_due(gateway, alert.created_at + timedelta(minutes=5))
    sent = fake_twilio.sent[0]
    params = fake_twilio.status_callback_params(sent["sid"], "undelivered", 30003)
    url = sent["status_callback"]
    signed_post(client, url[len(PUBLIC_URL) :], params, app_env["TWILIO_AUTH_TOKEN"], url=url)
    db.session.expire_all()
    row = db.session.get(SafetyAlert, alert.id).escalations[0]
    assert (row.status, row.error) == ("failed", "The phone is switched off or out of coverage.")


@pytest.mark.parametrize("query", ["e=abc", "e=-1", "e=99999999999999999999"])
def test_a_malformed_escalation_id_in_a_callback_is_400(client, practice, app_env, query):
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "sent"}
    url = f"{PUBLIC_URL}/twilio/status?{query}"
    answer = signed_post(client, f"/twilio/status?{query}", params, app_env["TWILIO_AUTH_TOKEN"], url=url)
    assert answer.status_code == 400


def test_the_worker_loop_runs_the_escalations(
    app, inbound, practice, team, gateway, fake_twilio, monkeypatch
):
    from inbox import worker

    always_open(practice)
    alert = crisis(inbound)
    later = alert.created_at + timedelta(minutes=5)
    monkeypatch.setattr(escalation, "utcnow", lambda: later)
    worker.run_once(gateway, "test-worker")
    assert texted(fake_twilio) == [PHONES["fran"]]
