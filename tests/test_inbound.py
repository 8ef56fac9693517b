"""The incoming-message webhook: signatures, idempotency, routing, keywords and bad input."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import phonenumbers
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from inbox.common.phones import InvalidNumber, to_e164
from inbox.extensions import db
from inbox.models import AuditEvent, ConsentEvent, Contact, Journey, Message, ThrottleCounter, utcnow
from inbox.texting import inbound as inbound_module
from inbox.texting.inbound import follow_up_due
from inbox.worker import run_once
from tests import ephi_watch, factories
from tests.conftest import PUBLIC_URL, signed_post
from tests.fake_twilio import sign


def count(model, *where) -> int:
    """Rows of a model, read fresh from the database."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_twilio_published_validator_vector():
    # The example from Twilio's webhook-security documentation.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert RequestValidator("12345").validate(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert sign(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_new_number_creates_contact_inquiry_and_message(inbound, practice):
    response = inbound("Hi, do you have openings for a new client?", from_="+14155550123")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    contact = factories.contact_by_phone("+14155550123")
    journey = db.session.scalar(select(Journey).where(Journey.contact_id == contact.id))
    assert (journey.pathway, journey.is_inquiry, journey.source) == ("intake", True, "sms")
    msg = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert msg.journey_id == journey.id
    assert msg.body == "Hi, do you have openings for a new client?"
    assert journey.last_message_id is not None


def test_staff_see_the_new_inquiry_in_their_thread(inbound, practice, staff_client):
    inbound("Is this the intake line?", from_="+14155550123")
    journeys = staff_client.get("/api/journeys").get_json()["journeys"]
    assert len(journeys) == 1 and journeys[0]["unread"] == 1
    thread = staff_client.get(f"/api/journeys/{journeys[0]['id']}/messages").get_json()["messages"]
    assert thread[0]["body"] == "Is this the intake line?"
    assert thread[0]["direction"] == "inbound"
    assert count(AuditEvent, AuditEvent.action == "thread.view") == 1


def webhook_params() -> dict[str, str]:
    """An incoming-message webhook's fields, before signing."""
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "From": "+14155550123",
        "To": "+15005550006",
        "Body": "hello",
        "NumMedia": "0",
    }


@pytest.mark.parametrize(
    "mutate",
    [
        lambda headers, params: headers.pop("X-Twilio-Signature"),
        lambda headers, params: headers.update(
            {"X-Twilio-Signature": "AAAA" + headers["X-Twilio-Signature"][4:]}
        ),
        lambda headers, params: params.update({"Body": "tampered after signing"}),
        lambda headers, params: params.update({"Extra": "parameter added after signing"}),
    ],
    ids=["missing", "tampered-signature", "tampered-body", "extra-parameter"],
)
def test_bad_signature_is_403_and_stores_nothing(client, practice, app_env, mutate):
    params = webhook_params()
    headers = {
        "X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/messages", params, app_env["TWILIO_AUTH_TOKEN"])
    }
    mutate(headers, params)
    response = client.post("/twilio/messages", data=params, headers=headers)
    assert response.status_code == 403
    assert count(Message) == 0 and count(Contact) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook.bad_signature"))
    assert event is not None and "hello" not in str(event.detail)


def test_a_flood_of_unsigned_webhooks_is_counted_not_written_row_by_row(app, practice):
    flooder, other = app.test_client(), app.test_client()
    flooder.environ_base["REMOTE_ADDR"], other.environ_base["REMOTE_ADDR"] = "198.51.100.9", "192.0.2.4"
    for _ in range(300):
        assert (
            flooder.post("/twilio/status", data={"x": "1"}, headers={"X-Twilio-Signature": "no"}).status_code
            == 403
        )
    assert other.post("/twilio/status", headers={"X-Twilio-Signature": "no"}).status_code == 403
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.bad_signature")).all()
    flood = [e for e in events if e.ip == "198.51.100.9"]
    # A sample per source and minute (the burst may straddle two minutes), and the total counted.
    assert 5 <= len(flood) <= 10 and [e.ip for e in events].count("192.0.2.4") == 1
    assert {e.detail["nth_this_minute"] for e in flood} <= {1, 2, 3, 4, 5}
    tallies = db.session.scalars(
        select(ThrottleCounter).where(ThrottleCounter.key.like("tally:webhook.bad_signature%198.51.100.9%"))
    ).all()
    assert sum(t.count for t in tallies) == 300 and len(tallies) <= 2


def test_signature_is_checked_against_the_public_url_behind_a_proxy(client, practice, app_env):
    params = webhook_params()
    token = app_env["TWILIO_AUTH_TOKEN"]
    # The proxy forwards to http://10.0.0.5:8000, but Twilio signed the public https URL it called.
    internal = {"base_url": "http://10.0.0.5:8000"}
    response = signed_post(client, "/twilio/messages", params, token, **internal)
    assert response.status_code == 200
    # Signed for the internal URL instead: refused, since that is not the URL Twilio calls.
    params["MessageSid"] = "SM" + uuid.uuid4().hex
    response = signed_post(
        client, "/twilio/messages", params, token, url="http://10.0.0.5:8000/twilio/messages", **internal
    )
    assert response.status_code == 403


def test_signed_query_string_is_part_of_the_url(client, practice, app_env):
    params = webhook_params()
    url = PUBLIC_URL + "/twilio/messages?practice=calm"
    good = client.post(
        "/twilio/messages?practice=calm",
        data=params,
        headers={"X-Twilio-Signature": sign(url, params, app_env["TWILIO_AUTH_TOKEN"])},
    )
    assert good.status_code == 200
    params["MessageSid"] = "SM" + uuid.uuid4().hex
    bad = client.post(
        "/twilio/messages?practice=other",
        data=params,
        headers={"X-Twilio-Signature": sign(url, params, app_env["TWILIO_AUTH_TOKEN"])},
    )
    assert bad.status_code == 403


def test_replayed_webhook_stores_one_message(inbound, practice):
    sid = "SM" + uuid.uuid4().hex
    for _ in range(3):
        assert inbound("hello", sid=sid).status_code == 200
    assert count(Message, Message.twilio_sid == sid) == 1
    assert count(Journey) == 1


def test_fifty_concurrent_replays_store_one_message_and_one_welcome(app, practice, app_env):
    sid = "SM" + uuid.uuid4().hex
    params = {
        "MessageSid": sid,
        "From": "+14155550177",
        "To": "+15005550006",
        "Body": "hello",
        "NumMedia": "0",
    }
    signature = sign(PUBLIC_URL + "/twilio/messages", params, app_env["TWILIO_AUTH_TOKEN"])
    statuses = []
    barrier = threading.Barrier(50)

    def fire():
        client = app.test_client()
        barrier.wait()
        statuses.append(
            client.post(
                "/twilio/messages", data=params, headers={"X-Twilio-Signature": signature}
            ).status_code
        )

    threads = [threading.Thread(target=fire) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 50
    assert count(Message, Message.direction == "inbound") == 1
    assert count(Contact) == 1 and count(Journey) == 1
    # The welcome is the worker's: four of them race for it, and one wins.
    done = []
    barrier = threading.Barrier(4)

    def follow_up():
        with app.app_context():
            barrier.wait()
            done.append(follow_up_due())

    workers = [threading.Thread(target=follow_up) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert sorted(done) == [0, 0, 0, 1]
    # The welcome automation (held for consent) and the single opt-in request.
    assert count(Message, Message.kind == "automated") == 1
    assert count(Message, Message.kind == "opt_in_request") == 1


def test_known_number_goes_to_its_open_journey(inbound, practice):
    contact = factories.contact(practice, phone="+14155550123")
    journey = factories.journey(contact, pathway="waitlist")
    inbound("any news on a slot?", from_="+14155550123")
    assert count(Journey) == 1
    assert db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound")) == journey.id


def received(journey: Journey, body: str, status: str = "delivered") -> Message:
    """An outbound text of the journey that reached the person (Twilio took it; a SID)."""
    msg = factories.message(
        journey, body, direction="outbound", status=status, twilio_sid="SM" + uuid.uuid4().hex
    )
    db.session.commit()
    return msg


def test_several_open_journeys_route_to_the_last_outbound_text(inbound, practice):
    guardian = factories.contact(practice, phone="+14155550123", consent_state="opted_in")
    first = factories.journey(guardian, stage="Child A")
    second = factories.journey(guardian, stage="Child B")
    received(first, "About your son's session")
    received(second, "About your daughter's forms", status="sending")
    inbound("She'll fill them in tonight", from_="+14155550123")
    routed = db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound"))
    assert routed == second.id


def test_the_last_outbound_text_beats_more_recent_activity(inbound, practice):
    guardian = factories.contact(practice, phone="+14155550123", consent_state="opted_in")
    answered = factories.journey(guardian, stage="Child A")
    received(answered, "Can you bring the forms on Monday?")
    busier = factories.journey(guardian, stage="Child B", last_activity_at=utcnow() + timedelta(hours=1))
    inbound("Yes, I will", from_="+14155550123")
    routed = db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound"))
    assert routed == answered.id != busier.id


@pytest.mark.parametrize("status", ["held_for_consent", "queued", "cancelled", "failed", "undelivered"])
def test_a_text_the_person_never_received_does_not_route(inbound, practice, status):
    guardian = factories.contact(practice, phone="+14155550123", consent_state="opted_in")
    answered = factories.journey(guardian, stage="Child A")
    received(answered, "Can you bring the forms on Monday?")
    second = factories.journey(guardian, stage="Child B")
    factories.message(second, "Welcome to Calm Harbor", direction="outbound", status=status, kind="automated")
    db.session.commit()
    inbound("Yes, I will", from_="+14155550123")
    routed = db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound"))
    assert routed == answered.id


def test_a_second_journey_whose_welcome_waits_does_not_take_the_reply(inbound, practice, staff_client):
    guardian = factories.contact(practice, phone="+14155550123")
    first = factories.journey(guardian, stage="Child A")
    received(first, "Can you bring the forms on Monday?")
    answer = staff_client.post(f"/api/contacts/{guardian.id}/journeys", json={"pathway": "waitlist"})
    assert answer.status_code == 201
    second_id = answer.get_json()["journey"]["id"]
    waiting = db.session.scalars(select(Message.status).where(Message.journey_id == second_id)).all()
    assert waiting and set(waiting) <= {"held_for_consent", "queued", "logged"}
    inbound("Yes, I will", from_="+14155550123")
    routed = db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound"))
    assert routed == first.id


def test_without_outbound_texts_the_most_recently_active_journey_wins(inbound, practice):
    contact = factories.contact(practice, phone="+14155550123")
    factories.journey(contact, last_activity_at=utcnow() - timedelta(days=2))
    recent = factories.journey(contact, last_activity_at=utcnow() - timedelta(hours=1))
    factories.journey(contact, last_activity_at=utcnow() - timedelta(days=1))
    inbound("Any news?", from_="+14155550123")
    assert db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound")) == recent.id


def test_a_closed_journeys_outbound_text_does_not_route(inbound, practice):
    guardian = factories.contact(practice, phone="+14155550123", consent_state="opted_in")
    still_open = factories.journey(guardian, stage="Child A")
    received(still_open, "About your son's session")
    closed = factories.journey(guardian, stage="Child B")
    received(closed, "About your daughter's forms")
    db.session.get(Journey, closed.id).is_open = False
    db.session.commit()
    inbound("Thanks", from_="+14155550123")
    routed = db.session.scalar(select(Message.journey_id).where(Message.direction == "inbound"))
    assert routed == still_open.id


def test_closed_journeys_make_a_new_inquiry(inbound, practice):
    contact = factories.contact(practice, phone="+14155550123")
    factories.journey(contact, is_open=False)
    inbound("I'd like to come back", from_="+14155550123")
    assert count(Journey) == 2
    assert count(Journey, Journey.is_open.is_(True), Journey.is_inquiry.is_(True)) == 1


def test_unknown_to_number_stores_nothing(inbound, practice):
    response = inbound("hello", to="+15005559999")
    assert response.status_code == 404
    assert b"not set up" in response.data
    assert count(Message) == 0 and count(Contact) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"MessageSid": ""},
        {"MessageSid": "not-a-sid"},
        {"From": ""},
        {"From": "not a number"},
        {"To": "12"},
        {"NumMedia": "lots"},
        {"NumMedia": "11"},
        {"Body": "x" * 7000},
        {"Body": "   "},
    ],
    ids=lambda f: ",".join(f"{k}={v[:12]}" for k, v in f.items()),
)
def test_malformed_webhooks_are_4xx_and_store_nothing(inbound, practice, fields):
    response = inbound(**fields)
    assert 400 <= response.status_code < 500
    assert count(Message) == 0 and count(Contact) == 0 and count(Journey) == 0


def test_body_with_bad_encoding_is_not_a_500(client, practice, app_env):
    raw = (
        b"MessageSid=SM"
        + uuid.uuid4().hex.encode()
        + b"&From=%2B14155550123&To=%2B15005550006&Body=%ff%fe%fd&NumMedia=0"
    )
    response = client.post(
        "/twilio/messages",
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "bogus"},
    )
    assert response.status_code == 403


def test_huge_request_is_413(client, practice):
    response = client.post(
        "/twilio/messages", data={"Body": "x" * (1024 * 1024)}, headers={"X-Twilio-Signature": "anything"}
    )
    assert response.status_code == 413
    assert count(Message) == 0


def test_inbound_body_never_reaches_the_logs(inbound, practice, caplog):
    caplog.set_level("DEBUG")
    inbound("my SSN is 078-05-1120", from_="+14155550123")
    assert "078-05-1120" not in caplog.text
    assert "4155550123" not in caplog.text


# --- keywords ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "stop",
        " Stop ",
        "STOPALL",
        "unsubscribe",
        "CANCEL",
        "end",
        "QUIT",
        "revoke",
        "OPTOUT",
        "Stop.",
    ],
)
def test_opt_out_keywords(inbound, practice, word):
    response = inbound(word, from_="+14155550123")
    contact = db.session.scalar(select(Contact))
    assert contact.consent_state == "opted_out"
    event = db.session.scalar(select(ConsentEvent).where(ConsentEvent.state == "opted_out"))
    assert event.source == "sms_keyword" and event.message_sid
    assert b"unsubscribed" in response.data


@pytest.mark.parametrize("word", ["START", "yes", "Unstop", " YES "])
def test_opt_in_keywords(inbound, practice, word):
    factories.contact(practice, phone="+14155550123", consent_state="pending")
    inbound(word, from_="+14155550123")
    db.session.expire_all()
    assert db.session.scalar(select(Contact)).consent_state == "opted_in"


@pytest.mark.parametrize("word", ["HELP", "help", "Info"])
def test_help_keywords_reply_with_the_practice_help_text(inbound, practice, word):
    response = inbound(word, from_="+14155550123")
    assert b"Calm Harbor Therapy" in response.data
    assert b"Reply STOP to opt out" in response.data
    assert b"Msg &amp; data rates may apply" in response.data


@pytest.mark.parametrize(
    "text", ["Please stop texting me", "no más mensajes", "don't text me again", "Remove me from this list"]
)
def test_opt_out_in_other_words_is_flagged_not_applied(inbound, practice, text):
    inbound(text, from_="+14155550123")
    msg = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert msg.flags == {"opt_out_language": True}
    assert db.session.scalar(select(Contact)).consent_state != "opted_out"


@pytest.mark.parametrize(
    "text", ["Can I stop by the office?", "When does my session end?", "yes please, Tuesday"]
)
def test_ordinary_sentences_are_not_keywords(inbound, practice, text):
    response = inbound(text, from_="+14155550123")
    assert db.session.scalar(select(Contact)).consent_state in ("unknown", "pending")
    assert b"<Message " not in response.data


def test_opt_out_type_from_twilio_is_honoured_without_a_second_confirmation(inbound, practice):
    response = inbound("Arrêt", from_="+14155550123", OptOutType="STOP")
    assert db.session.scalar(select(Contact)).consent_state == "opted_out"
    assert b"<Message " not in response.data


def test_stop_confirmation_can_be_left_to_twilio(inbound, practice):
    practice.send_stop_confirmation = False
    db.session.commit()
    response = inbound("STOP", from_="+14155550123")
    assert db.session.scalar(select(Contact)).consent_state == "opted_out"
    assert b"<Message " not in response.data


def test_stop_cancels_everything_held_or_queued(inbound, practice):
    from inbox.texting.outbox import compose

    contact = factories.contact(practice, phone="+14155550123")
    journey = factories.journey(contact)
    held = compose(db.session.get(Journey, journey.id), "Your intake forms are ready")
    db.session.commit()
    assert held.status == "held_for_consent"
    inbound("STOP", from_="+14155550123")
    db.session.expire_all()
    statuses = db.session.scalars(
        select(Message.status).where(Message.direction == "outbound", Message.kind != "keyword_reply")
    ).all()
    assert statuses and set(statuses) == {"cancelled"}


def test_a_repeated_stop_repeats_the_confirmation_its_lost_answer_carried(inbound, practice):
    # Twilio repeats a webhook only when our answer never reached it: the confirmation rode in that
    # answer, so the repeat carries it again (the same row, the same uid), and the ledger stays at one.
    sid = "SM" + uuid.uuid4().hex
    first = inbound("STOP", sid=sid)
    second = inbound("STOP", sid=sid)
    assert b"<Message " in first.data
    assert second.data == first.data
    assert count(ConsentEvent) == 1
    assert count(Message, Message.kind == "keyword_reply") == 1


def test_a_repeated_stop_stays_quiet_once_its_reply_reached_twilio(inbound, practice, client, app_env):
    sid = "SM" + uuid.uuid4().hex
    first = inbound("STOP", sid=sid)
    reply = db.session.scalar(select(Message).where(Message.kind == "keyword_reply"))
    assert f"m={reply.uid}".encode() in first.data
    # Twilio's callback for the TwiML reply: the first answer arrived and the text went.
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "sent"}
    callback = signed_post(client, f"/twilio/status?m={reply.uid}", params, app_env["TWILIO_AUTH_TOKEN"])
    assert callback.status_code == 204
    second = inbound("STOP", sid=sid)
    assert second.status_code == 200 and b"<Message" not in second.data
    assert count(Message, Message.kind == "keyword_reply") == 1


def test_worker_dying_between_webhook_and_follow_up_sends_welcome_and_opt_in_request_once(
    inbound, practice, gateway, fake_twilio, monkeypatch
):
    # The webhook stores the text and answers; the new inquiry's welcome is owed, not yet composed.
    assert inbound("Hi, do you take new patients?", from_="+14155550188", follow_up=False).status_code == 200
    text = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert text.follow_up == "welcome"
    assert count(Message, Message.direction == "outbound") == 0

    # The worker composes the welcome and its opt-in request, then dies before its commit.
    real_welcome = inbound_module.send_welcome

    def welcome_then_die(journey, **how):
        real_welcome(journey, **how)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(inbound_module, "send_welcome", welcome_then_die)
    with pytest.raises(RuntimeError):
        follow_up_due()
    db.session.rollback()  # what the dead process's transaction amounts to
    db.session.expire_all()
    assert count(Message, Message.direction == "outbound") == 0  # nothing of it survived
    assert db.session.get(Message, text.id).follow_up == "welcome"  # and it is still owed

    # The next worker (twice, as a restarted one would loop) does it once, and sends the request once.
    monkeypatch.setattr(inbound_module, "send_welcome", real_welcome)
    run_once(gateway, "worker-b")
    run_once(gateway, "worker-b")
    db.session.expire_all()
    assert count(Message, Message.kind == "automated") == 1  # the welcome, held until YES
    assert count(Message, Message.kind == "opt_in_request") == 1
    assert db.session.get(Message, text.id).follow_up is None
    assert [s["to"] for s in fake_twilio.sent] == ["+14155550188"]  # the opt-in request, once
    assert "Reply YES" in fake_twilio.sent[0]["body"]


def test_a_rolled_back_text_leaves_no_ghost_when_its_id_comes_round_again(practice):
    # The webhook writes its text with a Core INSERT (thread.insert_message), outside the unit of work
    # that would expunge it on rollback; the next row given the same id must still be the one seen.
    from inbox.texting.thread import insert_message

    contact = factories.contact(practice, phone="+14155550140")
    journey = factories.journey(contact)
    db.session.commit()
    lost = insert_message(journey, direction="inbound", kind="inbound", status="received", body="lost")
    lost_id = lost.id
    db.session.rollback()
    kept = insert_message(journey, direction="inbound", kind="inbound", status="received", body="kept")
    db.session.commit()
    if db.engine.dialect.name == "sqlite":  # it hands out the rolled-back id again: the case in point
        assert kept.id == lost_id
    db.session.expire_all()
    assert db.session.get(Message, kept.id).body == "kept"
    assert count(Message, Message.journey_id == journey.id) == 1


def test_the_worker_lets_the_server_in_between_follow_ups(inbound, practice, gateway, monkeypatch):
    # SQLite never yields to the async hub: in the embedded server a pass of 20 welcomes done back to
    # back held every socket and webhook for its whole length. The worker yields after each one.
    from inbox import worker
    from inbox.extensions import socketio

    for n in range(3):
        inbound(f"Hello, new here ({n})", from_=f"+1415555017{n}", follow_up=False)
    events: list[str] = []
    real_follow_up = inbound_module.follow_up_due

    def one_follow_up(limit):
        done = real_follow_up(limit=limit)
        events.extend(["follow-up"] * done)
        return done

    monkeypatch.setattr(worker.inbound, "follow_up_due", one_follow_up)
    monkeypatch.setattr(socketio, "sleep", lambda seconds=0: events.append("yield"))
    run_once(gateway, "worker-a")
    assert events == ["follow-up", "yield"] * 3
    assert count(Message, Message.follow_up.is_not(None)) == 0


# An area code not (yet) in libphonenumber's metadata: the right length, so possible, but not "valid".
NEW_AREA_CODE_NUMBER = "+12325550142"


def test_a_text_from_a_number_the_phone_library_does_not_know_yet_is_stored(inbound, practice):
    parsed = phonenumbers.parse(NEW_AREA_CODE_NUMBER, None)
    assert phonenumbers.is_possible_number(parsed) and not phonenumbers.is_valid_number(parsed)
    response = inbound("Hi, is this the intake line?", from_=NEW_AREA_CODE_NUMBER)
    assert response.status_code == 200
    contact = factories.contact_by_phone(NEW_AREA_CODE_NUMBER)
    msg = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert msg.body == "Hi, is this the intake line?" and msg.journey.contact_id == contact.id


def test_staff_still_cannot_type_a_number_that_is_only_possible():
    with pytest.raises(InvalidNumber):
        to_e164(NEW_AREA_CODE_NUMBER)


@pytest.mark.parametrize(
    "from_", ["+1232555014", "+123255501420000", "14155550100", "+1 415 555 0100", "+44", "+1415555O100"]
)
def test_a_malformed_sender_is_a_clear_400_and_stores_nothing(inbound, practice, from_):
    response = inbound("hello", from_=from_)
    assert response.status_code == 400 and b"not a phone number" in response.data
    assert count(Message) == 0 and count(Contact) == 0 and count(Journey) == 0


def test_an_older_request_named_by_sms_sid_alone_is_stored(client, practice, app_env):
    sid = "SM" + uuid.uuid4().hex
    form = {"SmsSid": sid, "From": "+14155550123", "To": "+15005550006", "Body": "an older shape"}
    ephi_watch.remember(form["Body"], form["From"])
    response = signed_post(client, "/twilio/messages", form, app_env["TWILIO_AUTH_TOKEN"])
    assert response.status_code == 200
    assert db.session.scalar(select(Message.twilio_sid).where(Message.direction == "inbound")) == sid


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"From": "whatsapp:+14155550123", "To": "whatsapp:+15005550006"}, "whatsapp"),
        ({"From": "messenger:1234567890", "To": "messenger:0987654321"}, "messenger"),
        ({"From": "898287"}, "short_code"),
        ({"From": "12345"}, "short_code"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_channel_or_sender_the_inbox_does_not_text_with_is_answered_and_counted(
    inbound, practice, fields, reason
):
    from_ = fields.pop("From")
    response = inbound("a text we do not route", from_=from_, **fields)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert b"<Message" not in response.data  # nothing texted back on a channel we do not serve
    assert count(Message) == 0 and count(Contact) == 0 and count(Journey) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook.not_routed"))
    assert event.detail["reason"] == reason
    assert event.practice_id == (practice.id if fields.get("To") != "messenger:0987654321" else None)
    # The suite's own log watch (tests/ephi_watch.py) sees every app logger, whatever another test did
    # to propagation (caplog, which relies on it, came back empty in the whole suite).
    logged = [line for name, line in ephi_watch.watch.lines if name == "inbox.texting.inbound"]
    assert any(f"not routed reason={reason}" in line for line in logged)
