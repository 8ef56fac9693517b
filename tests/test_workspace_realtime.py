"""The workspace's live events against the real server and a real Socket.IO client: a mention reaches
the mentioned person's own sockets only, a named contact updates every page of the practice, and a
thread's room hears who has it open (join, leave, disconnect).

As in tests/test_realtime.py, "heard nothing" is shown by a later event the socket must hear: the server
writes to one socket in order."""

from __future__ import annotations

import pytest

from tests import ephi_watch, factories

pytest_plugins = ["tests.live_server"]

WAIT = 5
NUMBER_B = "+15005550007"


@pytest.fixture
def journey(practice):
    """Maria's journey at the staff's practice."""
    return factories.journey(factories.contact(practice, phone="+14155550100"))


@pytest.fixture
def colleague(practice):
    """Sam, a colleague to mention."""
    return factories.user(practice, email="sam@example.com", first_name="Sam", last_name="Patel")


def test_a_mention_reaches_only_the_mentioned_persons_sockets(
    live_server, practice, staff, colleague, journey
):
    bystander = factories.user(practice, email="lee@example.com", first_name="Lee")
    dana = live_server.login(staff.email)
    dana_tab = live_server.socket(dana)
    sam_laptop = live_server.socket(live_server.login(colleague.email))
    sam_phone = live_server.socket(live_server.login(colleague.email))
    lee_tab = live_server.socket(live_server.login(bystander.email))
    ephi_watch.remember("Sam can you call her mum back")
    answer = dana.post(
        f"{live_server.url}/api/journeys/{journey.id}/notes",
        json={"body": "Sam can you call her mum back", "mentions": [colleague.id]},
        timeout=WAIT,
    )
    assert answer.status_code == 201
    note_id = answer.json()["message"]["id"]
    for tab in (sam_laptop, sam_phone):
        assert tab.wait_for("mention") == {
            "journey_id": journey.id,
            "message_id": note_id,
            "by": {"id": staff.id, "name": "Dana Reyes"},
        }
    # A later note mentioning Lee: Lee hears that one, and so never heard the first.
    dana.post(
        f"{live_server.url}/api/journeys/{journey.id}/notes",
        json={"body": "FYI Lee", "mentions": [bystander.id]},
    )
    assert lee_tab.wait_for("mention")["message_id"] != note_id
    assert [m["message_id"] for m in lee_tab.events("mention")] == [note_id + 1]
    assert dana_tab.events("mention") == []
    # Sam's other tabs hear the count drop when one of them opens the thread.
    sam = live_server.login(colleague.email)
    assert (
        sam.post(f"{live_server.url}/api/mentions/read", json={"journey_id": journey.id}).json()["unread"]
        == 0
    )
    assert sam_phone.wait_for("mention.read") == {"unread": 0}


def test_a_note_goes_to_the_thread_room_and_never_to_the_inbox_list(live_server, staff, journey):
    dana = live_server.login(staff.email)
    thread_tab, inbox_tab = live_server.socket(dana), live_server.socket(dana)
    assert thread_tab.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}
    dana.post(f"{live_server.url}/api/journeys/{journey.id}/notes", json={"body": "Internal only"})
    note = thread_tab.wait_for("message.new")
    assert note["direction"] == "note" and note["body"] == "Internal only"
    # The contact texts: the inbox hears that, and heard no journey.updated for the note before it.
    live_server.inbound("Hi there", from_="+14155550100", to="+15005550006")
    inbox_tab.wait_for_popup()
    assert all(j.get("snippet") != "Internal only" for j in inbox_tab.events("journey.updated"))
    assert inbox_tab.events("message.new") == []


def test_naming_a_contact_updates_every_page_of_the_practice_only(live_server, staff, journey):
    other_practice = factories.practice("Quiet River Counseling", number=NUMBER_B)
    outsider = factories.user(other_practice, email="kim@quietriver.example")
    dana = live_server.login(staff.email)
    colleague_tab = live_server.socket(live_server.login(staff.email))
    outsider_tab = live_server.socket(live_server.login(outsider.email))
    ephi_watch.remember("Jordan", "Okafor")
    answer = dana.patch(
        f"{live_server.url}/api/contacts/{journey.contact_id}",
        json={"first_name": "Jordan", "last_name": "Okafor"},
        timeout=WAIT,
    )
    assert answer.status_code == 200
    updated = colleague_tab.wait_for("contact.updated")
    assert updated["id"] == journey.contact_id and updated["name"] == "Jordan Okafor"
    # The outsider's practice hears its own texts, and never heard the other practice's name change.
    outsider_contact = factories.journey(factories.contact(other_practice, phone="+14155550177"))
    live_server.inbound("Hello", from_="+14155550177", to=NUMBER_B)
    assert outsider_tab.wait_for_popup()["journey_id"] == outsider_contact.id
    assert outsider_tab.events("contact.updated") == []


def viewers(tab, journey_id, names):
    """Wait until the tab hears the journey's viewers be exactly these names."""
    return tab.wait_for(
        "journey.viewers",
        match=lambda d: d["journey_id"] == journey_id and sorted(v["name"] for v in d["viewers"]) == names,
    )


def test_the_thread_room_hears_who_has_it_open(live_server, practice, staff, colleague, journey):
    dana_tab = live_server.socket(live_server.login(staff.email))
    assert dana_tab.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}
    viewers(dana_tab, journey.id, ["Dana Reyes"])
    sam_tab = live_server.socket(live_server.login(colleague.email))
    assert sam_tab.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}
    both = viewers(dana_tab, journey.id, ["Dana Reyes", "Sam Patel"])
    assert {v["id"] for v in both["viewers"]} == {staff.id, colleague.id}
    viewers(sam_tab, journey.id, ["Dana Reyes", "Sam Patel"])
    # A second tab of Dana's is still one Dana.
    dana_again = live_server.socket(live_server.login(staff.email))
    assert dana_again.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}
    assert viewers(dana_again, journey.id, ["Dana Reyes", "Sam Patel"])
    dana_again.disconnect()
    # Leave: Sam goes from the list.
    sam_tab.emit("leave_journey", {"journey_id": journey.id})
    viewers(dana_tab, journey.id, ["Dana Reyes"])
    # Disconnect: Sam joins again and closes the tab.
    assert sam_tab.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}
    viewers(dana_tab, journey.id, ["Dana Reyes", "Sam Patel"])
    sam_tab.disconnect()
    viewers(dana_tab, journey.id, ["Dana Reyes"])


def test_viewers_of_another_practices_thread_are_never_heard(live_server, staff, journey):
    outsider = factories.user(
        factories.practice("Quiet River Counseling", number=NUMBER_B), email="kim@q.example"
    )
    outsider_tab = live_server.socket(live_server.login(outsider.email))
    assert outsider_tab.ask("join_journey", {"journey_id": journey.id})["ok"] is False
    dana_tab = live_server.socket(live_server.login(staff.email))
    assert dana_tab.ask("join_journey", {"journey_id": journey.id}) == {"ok": True}
    viewers(dana_tab, journey.id, ["Dana Reyes"])  # the refused outsider is not among them
    assert outsider_tab.events("journey.viewers") == []
