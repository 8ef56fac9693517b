"""Revocations that cannot be missed: a text that reads like an opt-out ("please stop texting me") waits
in the practice's "Opt-out requests to confirm" list with the business days left of the ten the FCC
gives; confirming records the opt-out with the text as evidence and sends the one confirmation text,
dismissing keeps who decided and why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, ConsentEvent, Contact, Message, OptOutRequest
from inbox.texting import revocations
from tests import factories
from tests.conftest import StaffClient
from tests.test_outbox import drain_all

PHONE = "+12125550177"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def flagged(inbound, practice):
    """Maria texted "please stop texting me": one request waits."""
    contact = factories.contact(practice, phone=PHONE)
    factories.journey(contact)
    inbound("please stop texting me", from_=PHONE)
    db.session.expire_all()
    return db.session.scalar(select(OptOutRequest))


def waiting(client) -> list[dict]:
    """The list as the page reads it."""
    answer = client.get("/api/opt-out-requests")
    assert answer.status_code == 200
    return answer.get_json()["requests"]


def audited(action: str) -> list[AuditEvent]:
    """Audit events of one action."""
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_text_in_other_words_lands_in_the_list_with_ten_business_days(staff_client, flagged):
    [shown] = waiting(staff_client)
    assert shown["body"] == "please stop texting me"
    assert shown["contact"] == "Maria Lopez" and shown["contact_id"] == flagged.contact_id
    assert shown["business_days_left"] == 10  # on the day it came
    assert shown["url"] == f"/journeys/{shown['journey_id']}"
    assert audited("opt_out_requests.list")
    page = staff_client.get("/").get_data(as_text=True)
    assert 'id="nav-optouts-count" class="count count-alert">1</span>' in page


@pytest.mark.parametrize("body", ["STOP", "unsubscribe", "Hi, can we move my appointment?"])
def test_keywords_and_ordinary_texts_make_no_request(inbound, practice, staff_client, body):
    inbound(body, from_=PHONE)
    assert waiting(staff_client) == []


def test_the_list_is_practice_scoped(app, flagged):
    other = factories.practice("Elsewhere Counseling")
    outsider = StaffClient(app.test_client())
    outsider.login(factories.user(other).email)
    assert waiting(outsider) == []
    assert outsider.post(f"/api/opt-out-requests/{flagged.id}/confirm").status_code == 404
    assert (
        outsider.post(f"/api/opt-out-requests/{flagged.id}/dismiss", json={"reason": "x"}).status_code == 404
    )
    db.session.expire_all()
    assert db.session.get(OptOutRequest, flagged.id).decided_at is None


MON_30_NOV = datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK)
SAT_5_DEC = datetime(2026, 12, 5, 10, 0, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("received", "today", "left"),
    [
        (MON_30_NOV, MON_30_NOV, 10),
        (MON_30_NOV, datetime(2026, 12, 4, 17, 0, tzinfo=NEW_YORK), 6),  # Friday
        (MON_30_NOV, datetime(2026, 12, 5, 9, 0, tzinfo=NEW_YORK), 6),  # Saturday: no day used up
        (MON_30_NOV, datetime(2026, 12, 6, 9, 0, tzinfo=NEW_YORK), 6),  # Sunday
        (MON_30_NOV, datetime(2026, 12, 14, 9, 0, tzinfo=NEW_YORK), 0),  # the last day
        (MON_30_NOV, datetime(2026, 12, 15, 9, 0, tzinfo=NEW_YORK), -1),  # overdue
        (SAT_5_DEC, SAT_5_DEC, 10),
        (SAT_5_DEC, datetime(2026, 12, 18, 9, 0, tzinfo=NEW_YORK), 0),
        # 11 PM Sunday in New York is Monday in UTC: the practice's calendar counts (Sunday's clock).
        (datetime(2026, 12, 6, 23, 0, tzinfo=NEW_YORK), datetime(2026, 12, 7, 9, 0, tzinfo=NEW_YORK), 9),
    ],
)
def test_business_days_left_count_monday_to_friday_only(received, today, left):
    utc = received.astimezone(UTC)
    assert revocations.business_days_left(utc, "America/New_York", today.astimezone(UTC)) == left


def test_confirming_records_the_opt_out_with_the_text_and_sends_one_confirmation(
    staff_client, staff, flagged, gateway, fake_twilio
):
    answer = staff_client.post(f"/api/opt-out-requests/{flagged.id}/confirm")
    assert answer.status_code == 200
    assert answer.get_json()["consent"]["state"] == "opted_out"
    assert waiting(staff_client) == []  # decided: off the list
    event = db.session.scalar(select(ConsentEvent).order_by(ConsentEvent.id.desc()))
    message = db.session.get(Message, flagged.message_id)
    assert (event.state, event.source, event.evidence) == (
        "opted_out",
        "sms_language",
        "please stop texting me",
    )
    assert event.actor_id == staff.id and event.message_sid == message.twilio_sid
    drain_all(gateway)
    [sent] = fake_twilio.sent
    assert sent["to"] == PHONE and "you are unsubscribed" in sent["body"]
    again = staff_client.post(f"/api/opt-out-requests/{flagged.id}/confirm")
    assert again.status_code == 409
    drain_all(gateway)
    assert len(fake_twilio.sent) == 1
    decided = db.session.get(OptOutRequest, flagged.id)
    assert (decided.decision, decided.decided_by_id) == ("confirmed", staff.id)
    assert message.flags == {"opt_out_language": True, "opt_out_decision": "confirmed"}
    assert [e.target_id for e in audited("opt_out_request.confirm")] == [flagged.id]


def test_confirming_sends_no_text_when_the_practice_number_confirms_opt_outs_itself(
    staff_client, practice, flagged, gateway, fake_twilio
):
    practice.send_stop_confirmation = False
    db.session.commit()
    assert staff_client.post(f"/api/opt-out-requests/{flagged.id}/confirm").status_code == 200
    drain_all(gateway)
    assert fake_twilio.sent == []
    assert db.session.get(Contact, flagged.contact_id).consent_state == "opted_out"


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": 3}, {"reason": "x" * 501}]
)
def test_dismissing_needs_a_reason(staff_client, flagged, body):
    answer = staff_client.post(f"/api/opt-out-requests/{flagged.id}/dismiss", json=body)
    assert answer.status_code == 400 and answer.get_json()["error"]
    assert len(waiting(staff_client)) == 1


def test_dismissing_records_who_and_why_and_keeps_consent(staff_client, staff, flagged, gateway, fake_twilio):
    reason = "She asked us to stop texting her work phone; she gave her cell instead."
    answer = staff_client.post(f"/api/opt-out-requests/{flagged.id}/dismiss", json={"reason": reason})
    assert answer.status_code == 200 and answer.get_json()["decision"] == "dismissed"
    db.session.expire_all()
    decided = db.session.get(OptOutRequest, flagged.id)
    assert (decided.decided_by_id, decided.reason) == (staff.id, reason)
    assert decided.decided_at is not None
    assert db.session.get(Contact, flagged.contact_id).consent_state != "opted_out"
    assert waiting(staff_client) == []
    [event] = audited("opt_out_request.dismiss")
    assert event.user_id == staff.id and reason not in str(event.detail)  # the reason stays out of the trail
    drain_all(gateway)
    assert fake_twilio.sent == []


def test_a_stop_after_the_flagged_text_settles_the_request(inbound, staff_client, flagged):
    inbound("STOP", from_=PHONE)
    assert waiting(staff_client) == []
    db.session.expire_all()
    assert db.session.get(OptOutRequest, flagged.id).decision == "superseded"
    assert staff_client.post(f"/api/opt-out-requests/{flagged.id}/confirm").status_code == 409


def test_a_stop_after_a_confirmed_request_is_stored_without_a_second_confirmation(
    inbound, staff_client, flagged, gateway, fake_twilio
):
    assert staff_client.post(f"/api/opt-out-requests/{flagged.id}/confirm").status_code == 200
    sid = "SM" + uuid.uuid4().hex
    answer = inbound("STOP", from_=PHONE, sid=sid)
    assert answer.status_code == 200 and b"<Message " not in answer.data  # they heard it from staff's
    drain_all(gateway)
    assert len(fake_twilio.sent) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Message.id).where(Message.twilio_sid == sid)) is not None
    opt_outs = db.session.scalars(select(ConsentEvent).where(ConsentEvent.state == "opted_out")).all()
    assert [e.source for e in opt_outs] == ["sms_language"]
