"""Socket.IO against the real server: who may connect, who hears what, and only after commit.

Every test runs `python wsgi.py` (tests/live_server.py) and talks to it with a real python-socketio
client. To show that a socket heard *nothing* of an event, a test sends a later event the socket must
hear and waits for it: the server writes to one socket in order, so anything wrongly sent before it
would already have arrived.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Message
from tests import factories
from tests.conftest import PUBLIC_URL
from tests.fake_twilio import sign

pytest_plugins = ["tests.live_server"]  # the live_server fixture

WAIT = 5  # seconds for an HTTP answer or a disconnect
NUMBER_A = "+15005550006"  # the `practice` fixture's number
NUMBER_B = "+15005550007"
MARIA = "+14155550100"  # a contact of practice A
SAM = "+14155550177"  # a contact of practice B
STRANGER = "+14155550123"  # nobody's contact yet


@pytest.fixture
def practice_b(app):
    """Another practice, with its own number."""
    return factories.practice("Quiet River Counseling", number=NUMBER_B)


@pytest.fixture
def staff_b(practice_b):
    """A staff member of the other practice."""
    return factories.user(practice_b, email="kim@quietriver.example", first_name="Kim")


@pytest.fixture
def journey_a(practice):
    """Maria Lopez's open intake journey at practice A."""
    return factories.journey(factories.contact(practice, phone=MARIA))


@pytest.fixture
def journey_b(practice_b):
    """Sam Ode's open intake journey at practice B."""
    return factories.journey(factories.contact(practice_b, phone=SAM, first_name="Sam", last_name="Ode"))


def about_journey(event: str, data: dict) -> int | None:
    """Which journey an event is about (journey.updated carries the journey itself)."""
    return data.get("id") if event == "journey.updated" else data.get("journey_id")


def inbound_sid() -> str:
    """A fresh MessageSid shaped like Twilio's."""
    return "SM" + uuid.uuid4().hex


def test_socket_without_a_login_is_refused(live_server, staff):
    visitor = requests.Session()
    visitor.get(f"{live_server.url}/login", timeout=WAIT)  # a session cookie holding only a CSRF token
    for cookie in (None, live_server.cookie_header(visitor), "session=forged.cookie.value"):
        for transport in ("websocket", "polling"):
            with pytest.raises(socketio.exceptions.ConnectionError):
                live_server.socket(cookie=cookie, transport=transport)
    # The same server lets a logged-in browser in, so the refusals above are about the login.
    assert live_server.socket(live_server.login(staff.email)).connected


def test_socket_from_a_foreign_origin_is_refused(live_server, staff):
    browser = live_server.login(staff.email)
    for transport in ("websocket", "polling"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            live_server.socket(browser, origin="https://evil.example", transport=transport)
        # Same cookie, our own origin: let in.
        assert live_server.socket(browser, origin=live_server.url, transport=transport).connected


def test_inbound_text_is_heard_by_its_practice_only(live_server, staff, staff_b):
    socket_a = live_server.socket(live_server.login(staff.email))
    socket_b = live_server.socket(live_server.login(staff_b.email))

    answer = live_server.inbound("Hi, do you have openings?", from_=STRANGER, to=NUMBER_A)
    assert answer.status_code == 200

    notify = socket_a.wait_for_popup()
    assert notify["title"] == "(415) 555-0123"  # no name known yet: the number, as people write it
    assert notify["snippet"] == "Hi, do you have openings?"
    assert notify["pathway"] == "intake"
    assert notify["url"] == f"/journeys/{notify['journey_id']}"
    journey = socket_a.wait_for(
        "journey.updated",
        lambda j: j["id"] == notify["journey_id"] and j["last_message_id"] == notify["message_id"],
    )
    assert journey["snippet"] == "Hi, do you have openings?"

    # Practice B's own text is the barrier: once B hears it, B would have heard A's before it.
    live_server.inbound("Sam here, can we move Tuesday?", from_=SAM, to=NUMBER_B)
    socket_b.wait_for_popup()
    leaked = [(e, d) for e, d in socket_b.heard if about_journey(e, d) == notify["journey_id"]]
    assert leaked == []
    assert "Hi, do you have openings?" not in json.dumps(socket_b.heard)


def test_join_journey_only_opens_the_users_own_practices_threads(
    live_server, staff, staff_b, journey_a, journey_b
):
    socket_a = live_server.socket(live_server.login(staff.email))
    socket_b = live_server.socket(live_server.login(staff_b.email))

    assert socket_b.ask("join_journey", {"journey_id": journey_a.id}) == {
        "ok": False,
        "error": "not found",
    }
    assert socket_b.ask("join_journey", {"journey_id": 999_999})["ok"] is False
    assert socket_b.ask("join_journey", {"journey_id": "seven"})["ok"] is False
    assert socket_b.ask("join_journey", {"journey_id": journey_b.id}) == {"ok": True}
    assert socket_a.ask("join_journey", {"journey_id": journey_a.id}) == {"ok": True}

    live_server.inbound("Is Thursday still ok?", from_=MARIA, to=NUMBER_A)
    message = socket_a.wait_for("message.new", lambda m: m["journey_id"] == journey_a.id)
    assert (message["direction"], message["body"], message["sender"]) == (
        "inbound",
        "Is Thursday still ok?",
        "Maria Lopez",
    )

    live_server.inbound("Running late", from_=SAM, to=NUMBER_B)
    socket_b.wait_for("message.new", lambda m: m["journey_id"] == journey_b.id)
    assert [m for m in socket_b.events("message.new") if m["journey_id"] == journey_a.id] == []
    assert "Is Thursday still ok?" not in json.dumps(socket_b.heard)


def test_leave_journey_stops_the_threads_events(live_server, staff, journey_a):
    socket_a = live_server.socket(live_server.login(staff.email))
    assert socket_a.ask("join_journey", {"journey_id": journey_a.id}) == {"ok": True}
    socket_a.emit("leave_journey", {"journey_id": journey_a.id})
    # leave_journey has no answer; a later call's answer shows the server has handled it.
    assert socket_a.ask("join_journey", {})["ok"] is False

    live_server.inbound("Still there?", from_=MARIA, to=NUMBER_A)
    # The popup (journey.updated's notify) goes to the practice room, after message.new to the thread's.
    notify = socket_a.wait_for_popup()
    assert socket_a.events("message.new") == []
    assert notify["journey_id"] == journey_a.id


def test_thread_hears_its_outbound_text_go_out_and_get_delivered(live_server, fake_twilio, staff, practice):
    journey = factories.journey(factories.contact(practice, phone=MARIA, consent_state="opted_in"))
    browser = live_server.login(staff.email)
    socket_a = live_server.socket(browser)
    assert socket_a.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}

    answer = browser.post(
        f"{live_server.url}/api/journeys/{journey.id}/messages",
        json={"body": "Your intake call is at 3pm."},
        timeout=WAIT,
    )
    assert answer.status_code == 201, answer.text
    message_id = answer.json()["message"]["id"]
    assert socket_a.wait_for("message.new", lambda m: m["id"] == message_id)["status"] == "queued"

    # The embedded worker hands it to (fake) Twilio.
    socket_a.wait_for("message.updated", lambda m: m["id"] == message_id and m["status"] == "sending")
    [sent] = [s for s in fake_twilio.sent if s["body"] == "Your intake call is at 3pm."]
    assert sent["status_callback"].startswith(f"{live_server.url}/twilio/status?")

    # A forged callback is refused and announces nothing; Twilio's real one moves the tick on.
    forged = fake_twilio.status_callback_params(sent["sid"], "failed", 30003)
    assert live_server.post_signed(sent["status_callback"], forged, signature="forged").status_code == 403
    delivered = fake_twilio.status_callback_params(sent["sid"], "delivered")
    assert live_server.post_signed(sent["status_callback"], delivered).status_code == 204
    update = socket_a.wait_for(
        "message.updated", lambda m: m["id"] == message_id and m["status"] == "delivered"
    )
    assert update["body"] == "Your intake call is at 3pm."
    statuses = [m["status"] for m in socket_a.events("message.updated") if m["id"] == message_id]
    assert statuses == ["sending", "delivered"]


def test_logout_ends_that_logins_sockets_only(live_server, staff):
    laptop = live_server.login(staff.email)
    tab_1, tab_2 = live_server.socket(laptop), live_server.socket(laptop)
    phone = live_server.socket(live_server.login(staff.email))  # another login of the same person
    copied_cookie = live_server.cookie_header(laptop)

    answer = laptop.post(f"{live_server.url}/logout", timeout=WAIT)
    assert answer.ok and answer.url.endswith("/login")

    for tab in (tab_1, tab_2):
        assert tab.wait_for("session.ended") == {}
        assert tab.disconnected.wait(WAIT), "the server did not drop the logged-out socket"
    # The ended login's cookie no longer opens a socket.
    with pytest.raises(socketio.exceptions.ConnectionError):
        live_server.socket(cookie=copied_cookie)

    live_server.inbound("Hello?", from_=STRANGER, to=NUMBER_A)
    phone.wait_for_popup()
    assert phone.connected and phone.events("session.ended") == []
    assert tab_1.popups() == [] and tab_2.popups() == []


def test_rejected_and_replayed_webhooks_announce_nothing(live_server, staff, journey_a):
    socket_a = live_server.socket(live_server.login(staff.email))
    assert socket_a.ask("join_journey", {"journey_id": journey_a.id}) == {"ok": True}

    def form(body: str, sid: str | None = None, to: str = NUMBER_A) -> dict[str, str]:
        return {"MessageSid": sid or inbound_sid(), "From": MARIA, "To": to, "Body": body, "NumMedia": "0"}

    def post(params: dict[str, str], signature: str | None = None) -> int:
        return live_server.post_signed("/twilio/messages", params, signature).status_code

    assert post(form("rejected: bad signature"), signature="AAAA") == 403
    # Signed for another public URL (the one the in-process test app uses), not the server's own.
    elsewhere = form("rejected: signed for another URL")
    token = live_server.fake_twilio.auth_token
    assert post(elsewhere, sign(PUBLIC_URL + "/twilio/messages", elsewhere, token)) == 403
    assert post(form("rejected: no such number", to="+15005550999")) == 404
    assert post(form("rejected: bad sid", sid="SM123")) == 400

    first = form("Can I come at 4?")
    assert post(first) == 200
    original = socket_a.wait_for_popup()
    assert post(first) == 200  # Twilio's retry of the same message

    live_server.inbound("Or 5?", from_=MARIA, to=NUMBER_A)
    barrier = socket_a.wait_for_popup(lambda n: n["snippet"] == "Or 5?")
    assert [n["message_id"] for n in socket_a.popups()] == [
        original["message_id"],
        barrier["message_id"],
    ]
    inbound_news = [m["id"] for m in socket_a.events("message.new") if m["direction"] == "inbound"]
    assert inbound_news == [original["message_id"], barrier["message_id"]]
    assert "rejected" not in json.dumps(socket_a.heard)
    db.session.expire_all()
    stored = db.session.scalar(
        select(func.count(Message.id)).where(Message.twilio_sid == first["MessageSid"])
    )
    assert stored == 1


@pytest.mark.parametrize(
    ("ephi_in_popups", "title", "snippet"),
    [
        (False, "ML", "New text · Waitlist"),
        (True, "Maria Lopez", "I had a panic attack again last night"),
    ],
    ids=["ephi-off", "ephi-on"],
)
def test_popup_carries_ephi_only_if_the_practice_allows(
    live_server, staff, practice, ephi_in_popups, title, snippet
):
    practice.ephi_in_popups = ephi_in_popups
    db.session.commit()
    journey = factories.journey(factories.contact(practice, phone=MARIA), pathway="waitlist")
    socket_a = live_server.socket(live_server.login(staff.email))

    live_server.inbound("I had a panic attack again last night", from_=MARIA, to=NUMBER_A)
    notify = socket_a.wait_for_popup()
    assert notify["journey_id"] == journey.id
    assert (notify["title"], notify["snippet"], notify["pathway"]) == (title, snippet, "waitlist")
    if not ephi_in_popups:
        popup = json.dumps(notify, ensure_ascii=False)
        for ephi in ("Maria", "Lopez", "panic", MARIA, MARIA[2:]):
            assert ephi not in popup


def test_a_webhook_that_fails_after_queuing_events_announces_nothing(live_server, staff, practice, journey_a):
    # A help text naming an unknown placeholder makes HELP fail after the message and its
    # notify were queued: the transaction rolls back, so nothing may have been announced.
    practice.help_text = "{{ practice.nonexistent }}"
    db.session.commit()
    socket_a = live_server.socket(live_server.login(staff.email))
    assert socket_a.ask("join_journey", {"journey_id": journey_a.id}) == {"ok": True}

    sid = inbound_sid()
    failed = live_server.inbound("HELP", from_=MARIA, to=NUMBER_A, sid=sid)
    live_server.inbound("Sorry, wrong word", from_=MARIA, to=NUMBER_A)
    barrier = socket_a.wait_for_popup(lambda n: n["snippet"] == "Sorry, wrong word")

    db.session.expire_all()
    stored = db.session.scalar(select(Message.id).where(Message.twilio_sid == sid))
    announced = [n["message_id"] for n in socket_a.popups()]
    # Announced if and only if committed, whichever way the app answers a broken help text.
    assert announced == ([stored] if stored else []) + [barrier["message_id"]]
    assert (stored is None) == (failed.status_code >= 500)
    threads = [m["id"] for m in socket_a.events("message.new") if m["direction"] == "inbound"]
    assert threads == announced


def test_concurrent_replays_of_one_message_sid_notify_once(live_server, staff, journey_a):
    socket_a = live_server.socket(live_server.login(staff.email))
    sid = inbound_sid()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(
            pool.map(
                lambda _: live_server.inbound("Did you get this?", from_=MARIA, to=NUMBER_A, sid=sid),
                range(6),
            )
        )
    assert [a.status_code for a in answers] == [200] * 6

    live_server.inbound("And this?", from_=MARIA, to=NUMBER_A)
    socket_a.wait_for_popup(lambda n: n["snippet"] == "And this?")
    assert [n["snippet"] for n in socket_a.popups()] == ["Did you get this?", "And this?"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Message.id)).where(Message.twilio_sid == sid)) == 1


def test_reading_a_thread_clears_its_badge_in_the_readers_other_tabs_only(
    live_server, practice, staff, journey_a
):
    colleague = factories.user(practice, email="sam@example.com", first_name="Sam")
    laptop, phone = live_server.login(staff.email), live_server.login(staff.email)
    other_tab = live_server.socket(phone)
    colleagues_tab = live_server.socket(live_server.login(colleague.email))
    live_server.inbound("Are you open Saturday?", from_=MARIA, to=NUMBER_A)
    other_tab.wait_for_popup()
    colleagues_tab.wait_for_popup()

    thread = laptop.get(f"{live_server.url}/api/journeys/{journey_a.id}/messages", timeout=WAIT)
    assert thread.ok
    read = other_tab.wait_for("journey.read")
    assert (
        read["journey_id"] == journey_a.id
        and read["last_read_message_id"] == thread.json()["messages"][-1]["id"]
    )
    # Reading it again moves nothing, so says nothing; the colleague's badge is theirs to clear.
    laptop.get(f"{live_server.url}/api/journeys/{journey_a.id}/messages", timeout=WAIT)
    live_server.inbound("Hello again", from_=MARIA, to=NUMBER_A)
    for tab in (other_tab, colleagues_tab):
        tab.wait_for_popup(match=lambda data: "again" in (data.get("snippet") or ""))
    assert len(other_tab.events("journey.read")) == 1
    assert colleagues_tab.events("journey.read") == []


def test_consent_changes_carry_the_whole_badge(live_server, staff, journey_a):
    tab = live_server.socket(live_server.login(staff.email))
    live_server.inbound("STOP", from_=MARIA, to=NUMBER_A)
    stopped = tab.wait_for("consent.changed")
    assert stopped["contact_id"] == journey_a.contact_id
    assert (stopped["state"], stopped["colour"]) == ("opted_out", "red") and "STOP" in stopped["reason"]
    live_server.inbound("START", from_=MARIA, to=NUMBER_A)
    started = tab.wait_for("consent.changed", match=lambda data: data["state"] != "opted_out")
    assert started["colour"] == "green" and "opt_in_requested_at" in started


def test_a_login_with_a_temporary_password_opens_no_socket(live_server, practice):
    newcomer = factories.user(practice, email="sam@example.com", must_change_password=True)
    with pytest.raises(socketio.exceptions.ConnectionError):
        live_server.socket(live_server.login(newcomer.email))


def test_joining_a_thread_leaves_an_audit_event(live_server, staff, journey_a):
    from inbox.models import AuditEvent

    socket_a = live_server.socket(live_server.login(staff.email))
    assert socket_a.ask("join_journey", {"journey_id": journey_a.id}) == {"ok": True}
    db.session.expire_all()
    joined = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "journey.join")).all()
    assert [(e.user_id, e.target_type, e.target_id) for e in joined] == [(staff.id, "journeys", journey_a.id)]
