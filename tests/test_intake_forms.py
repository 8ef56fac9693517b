"""Journeys from the public request form and the staff phone-intake form, with consent evidence."""

from __future__ import annotations

import re
import threading

import pytest
import requests
from sqlalchemy import func, select, text

from inbox.extensions import db
from inbox.models import ConsentEvent, Contact, Journey, Message
from inbox.texting.wording import PHONE_ATTESTATION, WEB_CONSENT_SENTENCE
from inbox.web.intake import SUBMISSIONS_PER_HOUR
from tests import factories
from tests.conftest import StaffClient
from tests.live_server import CSRF_INPUT, VALUE

pytest_plugins = ["tests.live_server"]  # the live_server fixture

VALID = {
    "first_name": "Maria",
    "last_name": "Lopez",
    "phone": "(415) 555-0123",
    "email": "maria@example.com",
    "reason": "Anxiety, looking for weekly sessions",
    "preferred_times": "Weekday evenings",
}


def token_of(page) -> str:
    """The form's CSRF token."""
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()


def submit(client, practice, **fields):
    """Fill in the public form as a person would."""
    url = f"/request/{practice.public_token}"
    return client.post(url, data={"csrf_token": token_of(client.get(url)), **fields})


def rows(model) -> int:
    """How many rows a table holds."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_public_form_shows_the_consent_sentence_unticked_and_can_be_framed(client, practice):
    page = client.get(f"/request/{practice.public_token}")
    assert page.status_code == 200
    assert WEB_CONSENT_SENTENCE.encode() in page.data
    assert b'id="consent" name="consent" type="checkbox" value="y">' in page.data  # not checked
    assert "frame-ancestors https:" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers


def test_submission_creates_an_inquiry_with_the_exact_sentence_as_evidence(client, practice):
    response = submit(client, practice, **VALID, consent="y")
    assert response.status_code == 200 and b"Thank you" in response.data
    contact = db.session.scalar(select(Contact))
    assert (contact.phone, contact.first_name) == ("+14155550123", "Maria")
    journey = db.session.scalar(select(Journey))
    assert (journey.source, journey.is_inquiry, journey.pathway) == ("web", True, "intake")
    event = db.session.scalar(select(ConsentEvent).where(ConsentEvent.source == "web_form"))
    assert event.evidence == WEB_CONSENT_SENTENCE
    # Opt-in is required: the form is evidence, the contact still confirms by replying YES.
    assert contact.consent_state == "pending"
    kinds = db.session.scalars(select(Message.kind).order_by(Message.id)).all()
    assert kinds == ["web_request", "automated", "opt_in_request"]


def test_what_the_person_asked_for_opens_the_thread_encrypted(client, practice):
    submit(client, practice, **VALID)
    first = db.session.scalars(select(Message).order_by(Message.id)).first()
    assert (first.direction, first.kind) == ("inbound", "web_request")
    assert first.body == "Reason: Anxiety, looking for weekly sessions\nPreferred times: Weekday evenings"
    raw = db.session.execute(text("SELECT body_ct FROM messages WHERE id = :id"), {"id": first.id}).scalar()
    assert b"Anxiety" not in raw and b"evenings" not in raw


def test_a_form_request_is_news_unread_for_every_staff_member_with_the_reason_as_preview(
    client, practice, staff
):
    colleague = factories.user(practice, email="sam@example.com", first_name="Sam")
    submit(client, practice, **VALID)
    for person in (staff, colleague):
        tab = StaffClient(client.application.test_client())
        tab.login(person.email)
        [row] = tab.get("/api/journeys").get_json()["journeys"]
        assert row["unread"] == 1
        assert row["snippet"].startswith("Reason: Anxiety, looking for weekly sessions")


def test_without_opt_in_required_the_form_consent_lets_the_welcome_go(client, practice):
    practice.require_opt_in = False
    db.session.commit()
    submit(client, practice, **VALID, consent="y")
    assert db.session.scalar(select(Contact)).consent_state == "opted_in"
    assert db.session.scalar(select(Message.status).where(Message.direction == "outbound")) == "queued"


def test_consent_is_not_a_condition_of_submitting(client, practice):
    response = submit(client, practice, **VALID)
    assert response.status_code == 200
    assert rows(Journey) == 1 and rows(ConsentEvent) == 1  # only the opt-in request's entry


def test_a_known_number_gets_a_new_journey_not_a_second_contact(client, practice):
    submit(client, practice, **VALID)
    submit(client, practice, **{**VALID, "phone": "+1 415 555 0123"})
    assert rows(Contact) == 1 and rows(Journey) == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"phone": "12"}, b"Enter a mobile number we can text"),
        ({"phone": ""}, b"Enter a mobile number."),
        ({"first_name": ""}, b"Enter a name."),
        ({"first_name": "x" * 101}, b"At most 100 characters."),
        ({"email": "not-an-email"}, b"Enter a valid email."),
        ({"reason": "x" * 2001}, b"reason-error"),
    ],
)
def test_invalid_submissions_show_field_errors_and_store_nothing(client, practice, change, error):
    response = submit(client, practice, **{**VALID, **change})
    assert response.status_code == 400
    assert error in response.data
    assert rows(Contact) == 0 and rows(Journey) == 0 and rows(Message) == 0


def test_script_injection_is_shown_as_text(client, practice):
    response = submit(
        client, practice, **{**VALID, "first_name": "<script>alert(1)</script>", "phone": "bad"}
    )
    assert b"<script>alert(1)</script>" not in response.data
    assert b"&lt;script&gt;" in response.data


def test_honeypot_submissions_are_dropped(client, practice):
    response = submit(client, practice, **VALID, website="http://spam.example")
    assert response.status_code == 200
    assert rows(Contact) == 0


def test_missing_csrf_is_refused(client, practice):
    response = client.post(f"/request/{practice.public_token}", data=VALID)
    assert response.status_code == 400
    assert rows(Contact) == 0


def test_public_form_is_throttled_per_address(client, practice):
    for i in range(5):
        submit(client, practice, **{**VALID, "phone": f"+1415555{i:04d}"})
    response = submit(client, practice, **{**VALID, "phone": "+14155559999"})
    assert response.status_code == 429
    assert rows(Contact) == 5


def test_a_burst_of_simultaneous_posts_from_one_address_stores_at_most_the_limit(live_server, practice):
    url, burst = f"{live_server.url}/request/{practice.public_token}", 12
    start, statuses = threading.Barrier(burst), []

    def post(i: int) -> None:
        """One visitor's tab: load the form, wait for the others, then submit together."""
        session = requests.Session()
        token = VALUE.search(CSRF_INPUT.search(session.get(url, timeout=30).text).group(0)).group(1)
        start.wait(timeout=60)
        fields = {**VALID, "phone": f"+1415555{i:04d}", "csrf_token": token}
        statuses.append(session.post(url, data=fields, timeout=60).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [200] * SUBMISSIONS_PER_HOUR + [429] * (burst - SUBMISSIONS_PER_HOUR)
    assert rows(Contact) == SUBMISSIONS_PER_HOUR


def test_unknown_form_token_is_404(client, practice):
    assert client.get("/request/nope").status_code == 404


def test_form_data_never_reaches_the_logs(client, practice, caplog):
    caplog.set_level("DEBUG")
    submit(client, practice, **VALID, consent="y")
    for value in ("Maria", "Lopez", "4155550123", "Anxiety"):
        assert value not in caplog.text


def test_phone_intake_needs_the_attestation(staff_client, staff):
    page = staff_client.get("/intake/phone")
    assert PHONE_ATTESTATION.encode() in page.data
    refused = staff_client.client.post("/intake/phone", data={**VALID, "csrf_token": token_of(page)})
    assert refused.status_code == 400 and b"Confirm you told the caller" in refused.data
    assert rows(Contact) == 0
    saved = staff_client.client.post(
        "/intake/phone", data={**VALID, "attestation": "y", "csrf_token": token_of(page)}
    )
    assert saved.status_code == 302
    event = db.session.scalar(select(ConsentEvent))
    assert (event.state, event.source, event.evidence, event.actor_id) == (
        "opted_in",
        "phone_attestation",
        PHONE_ATTESTATION,
        staff.id,
    )
    journey = db.session.scalar(select(Journey))
    assert journey.source == "phone" and saved.headers["Location"] == f"/journeys/{journey.id}"
    # Opted in by attestation: the welcome goes straight to the outbox.
    assert db.session.scalar(select(Message.status).where(Message.kind == "automated")) == "queued"


def test_phone_intake_needs_login(client):
    assert client.get("/intake/phone").status_code == 302
