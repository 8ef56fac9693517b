"""The workspace's list views (waiting on us, mine, unassigned; combinable), the filter tabs' counts,
the rows' "who wrote last" and consent chip, the thread pane's HTML, and assign-to-me / close through
the journey PATCH that already existed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, Journey
from tests import factories


@pytest.fixture
def desk(app, practice, staff):
    """Four open journeys and a closed one: waiting and mine, waiting and unassigned, answered by staff
    and mine, only an automated welcome; a closed one waiting; and another practice's waiting one."""
    other_staff = factories.user(practice, email="sam@example.com", first_name="Sam")

    def journey(phone: str, **fields):
        return factories.journey(
            factories.contact(practice, phone=phone, first_name="P" + phone[-2:]), **fields
        )

    j = {
        "waiting_mine": journey("+14155550101", assignee_id=staff.id),
        "waiting_free": journey("+14155550102"),
        "answered_mine": journey("+14155550103", assignee_id=staff.id),
        "auto_only": journey("+14155550104", assignee_id=other_staff.id),
        "closed_waiting": journey("+14155550105", is_open=False),
    }
    factories.texted(j["waiting_mine"], "Can we talk?")
    factories.texted(j["waiting_free"], "Hello?")
    # The welcome answers automatically: the person still waits for one of us.
    factories.texted(j["waiting_free"], "Welcome!", direction="outbound", kind="automated")
    factories.texted(j["answered_mine"], "Any times Monday?")
    factories.texted(j["answered_mine"], "Yes, 10am works", direction="outbound", author_id=staff.id)
    factories.texted(j["auto_only"], "Welcome!", direction="outbound", kind="automated")
    factories.texted(j["closed_waiting"], "Thanks, bye")
    other = factories.practice("Elsewhere Counseling", number="+15005550999")
    j["elsewhere"] = factories.journey(factories.contact(other, phone="+14155550109"))
    factories.texted(j["elsewhere"], "Hi")
    return {k: v.id for k, v in j.items()}


def listed(client, **params) -> list[int]:
    """The ids /api/journeys answers with, in its order."""
    response = client.get("/api/journeys", query_string=params)
    assert response.status_code == 200, response.data
    return [j["id"] for j in response.get_json()["journeys"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"waiting_mine", "waiting_free", "answered_mine", "auto_only"}),
        ({"waiting": "1"}, {"waiting_mine", "waiting_free"}),
        ({"mine": "1"}, {"waiting_mine", "answered_mine"}),
        ({"unassigned": "1"}, {"waiting_free"}),
        ({"waiting": "1", "mine": "1"}, {"waiting_mine"}),
        ({"waiting": "1", "unassigned": "1"}, {"waiting_free"}),
        ({"mine": "1", "unassigned": "1"}, set()),
        ({"waiting": "1", "state": "all"}, {"waiting_mine", "waiting_free", "closed_waiting"}),
        ({"waiting": "1", "state": "closed"}, {"closed_waiting"}),
        ({"waiting": "0"}, {"waiting_mine", "waiting_free", "answered_mine", "auto_only"}),
    ],
    ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_the_views_combine_and_stay_in_the_practice(staff_client, desk, params, expected):
    assert set(listed(staff_client, **params)) == {desk[name] for name in expected}


def test_a_row_says_who_wrote_last_and_whether_the_person_waits(staff_client, desk, staff):
    rows = {j["id"]: j for j in staff_client.get("/api/journeys").get_json()["journeys"]}
    assert rows[desk["waiting_free"]]["last_from"] == "contact"
    assert rows[desk["waiting_free"]]["waiting"] is True
    answered = rows[desk["answered_mine"]]
    assert (answered["last_from"], answered["last_author_id"], answered["waiting"]) == (
        "staff",
        staff.id,
        False,
    )
    assert (rows[desk["auto_only"]]["last_from"], rows[desk["auto_only"]]["waiting"]) == ("auto", False)


def test_every_row_carries_its_consent_chip_colour(staff_client, desk, practice):
    journeys = db.session.get(Journey, desk["answered_mine"])
    journeys.contact.consent_state = "opted_out"
    db.session.get(Journey, desk["waiting_mine"]).contact.consent_state = "opted_in"
    db.session.commit()
    rows = {j["id"]: j["consent_colour"] for j in staff_client.get("/api/journeys").get_json()["journeys"]}
    assert rows[desk["answered_mine"]] == "red"
    assert rows[desk["waiting_mine"]] == "green"
    assert rows[desk["waiting_free"]] == "amber"  # unknown, and the practice requires opt-in


def test_the_counts_follow_the_pathway_and_state_filter(staff_client, desk):
    counts = staff_client.get("/api/journeys/counts").get_json()["counts"]
    assert counts == {"all": 4, "waiting": 2, "mine": 2, "unassigned": 1}
    closed = staff_client.get("/api/journeys/counts?state=closed").get_json()["counts"]
    assert closed == {"all": 1, "waiting": 1, "mine": 0, "unassigned": 1}
    assert staff_client.get("/api/journeys/counts?pathway=waitlist").get_json()["counts"]["all"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/journeys?state=shut",
        "/api/journeys/counts?state=shut",
        "/api/journeys/counts?pathway=nope",
        "/?state=x",
    ],
)
def test_an_unknown_filter_is_a_400(staff_client, desk, path):
    assert staff_client.get(path).status_code == 400


def test_the_views_and_counts_need_a_login(client, desk):
    assert client.get("/api/journeys?waiting=1").status_code == 401
    assert client.get("/api/journeys/counts").status_code == 401


def test_assign_to_me_and_close_use_the_journey_patch(staff_client, desk, staff):
    journey_id = desk["waiting_free"]
    answer = staff_client.patch(f"/api/journeys/{journey_id}", json={"assignee_id": staff.id})
    assert answer.get_json()["journey"]["assignee_id"] == staff.id
    assert journey_id in listed(staff_client, mine="1", waiting="1")
    assert staff_client.patch(f"/api/journeys/{journey_id}", json={"is_open": False}).status_code == 200
    assert journey_id not in listed(staff_client, mine="1")
    assert journey_id in listed(staff_client, state="closed", mine="1")


def test_the_thread_pane_is_served_alone_audited_and_practice_scoped(staff_client, desk):
    journey_id = desk["waiting_mine"]
    pane = staff_client.get(f"/journeys/{journey_id}/pane")
    assert pane.status_code == 200
    html = pane.get_data(as_text=True)
    assert f'id="journey" class="journey" data-journey-id="{journey_id}"' in html
    assert "<html" not in html and 'id="journey-list"' not in html
    assert pane.headers["Cache-Control"] == "no-store"
    viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "journey.view")).all()
    assert [e.target_id for e in viewed] == [journey_id]
    assert staff_client.get(f"/journeys/{desk['elsewhere']}/pane").status_code == 404
    assert staff_client.get(f"/journeys/{desk['elsewhere']}").status_code == 404


def test_a_direct_journey_url_renders_both_panes_under_the_list_filter(staff_client, desk):
    html = staff_client.get(f"/journeys/{desk['answered_mine']}?waiting=1").get_data(as_text=True)
    assert f'data-journey-id="{desk["answered_mine"]}" data-contact-id' in html  # the thread pane
    assert f'data-journey-id="{desk["waiting_free"]}"' in html  # a row of the waiting view
    assert (
        f'class="journey-row" data-journey-id="{desk["answered_mine"]}"' not in html
    )  # answered: not listed
    assert 'data-count="waiting">2<' in html
