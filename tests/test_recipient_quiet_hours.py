"""Quiet hours in the person's own time: an automated text (or an opt-in request staff or an automation
cause) waits while it is night for the practice or for the recipient, whose clock is the time zone staff
stored for them, else their number's (the strictest when the number's area spans several zones)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEvent, Contact, User
from inbox.texting import consent, outbox
from tests import factories

NEW_YORK = ZoneInfo("America/New_York")  # the practice's clock; quiet hours 21:00-08:00


def at(hour: int, minute: int = 0, zone: ZoneInfo = NEW_YORK, day: int = 24) -> datetime:
    """A fixed moment on 24 Nov 2026 (a Tuesday, standard time everywhere) on the given clock."""
    return datetime(2026, 11, day, hour, minute, tzinfo=zone).astimezone(UTC)


def contact_with(practice, phone: str, **fields) -> Contact:
    """An opted-in contact, so only quiet hours stand between them and an automated text."""
    contact = factories.contact(practice, phone=phone, **fields)
    consent.record(contact, "opted_in", "sms_keyword", evidence="YES")
    db.session.commit()
    return contact


def test_the_reported_case_a_new_york_number_at_night_waits_though_the_practice_is_awake(practice):
    practice.timezone = "America/Los_Angeles"  # 8 PM there: the practice's clock alone let this go
    contact = contact_with(practice, "+12125550123")
    decision = consent.decide(contact, "automated", at(23))
    assert decision.action == "delay"
    # By New York's morning it is 5 AM in Los Angeles: the practice's own night holds it longest.
    assert decision.not_before == at(8, zone=ZoneInfo("America/Los_Angeles"), day=25)
    assert decision.reason == "waits until 8:00 AM for the practice (Los Angeles)"


def test_a_new_york_number_waits_for_its_own_morning(practice):
    practice.timezone = "America/Puerto_Rico"  # an hour ahead of New York: awake first
    contact = contact_with(practice, "+12125550123")
    decision = consent.decide(contact, "automated", at(7, 30))
    assert decision.action == "delay" and decision.not_before == at(8)
    assert decision.reason == "waits until 8:00 AM for the contact (New York)"


def test_a_hawaii_number_waits_for_the_morning_in_honolulu(practice):
    contact = contact_with(practice, "+18085550123")
    decision = consent.decide(contact, "automated", at(9, 30))  # 4:30 AM in Honolulu
    assert decision.action == "delay"
    assert decision.not_before == at(8, zone=ZoneInfo("Pacific/Honolulu"))
    assert decision.reason == "waits until 8:00 AM for the contact (Honolulu)"
    assert consent.decide(contact, "automated", at(13, 30)).action == "send"  # 8:30 AM there


def test_night_for_both_says_so_once(practice):
    contact = contact_with(practice, "+12125550123")
    decision = consent.decide(contact, "automated", at(2))
    assert decision.not_before == at(8)
    assert decision.reason == "waits until 8:00 AM for the practice and the contact (New York)"


def test_the_stored_time_zone_wins_over_the_numbers(practice):
    moved_east = contact_with(practice, "+18085550123", time_zone="America/New_York")
    assert consent.decide(moved_east, "automated", at(9, 30)).action == "send"
    moved_west = contact_with(practice, "+12125550124", time_zone="Pacific/Honolulu")
    decision = consent.decide(moved_west, "automated", at(9, 30))
    assert decision.action == "delay" and decision.reason == "waits until 8:00 AM for the contact (Honolulu)"


def test_a_number_with_several_zones_waits_for_the_latest_morning(practice):
    contact = contact_with(practice, "+16055550123")  # South Dakota: Mountain and Central
    now = at(7, 30, ZoneInfo("America/Denver"))  # 8:30 AM Central and 9:30 AM for the practice
    decision = consent.decide(contact, "automated", now)
    assert decision.action == "delay"
    assert decision.not_before == at(8, zone=ZoneInfo("America/Denver"))
    assert decision.reason == "waits until 8:00 AM for the contact (Denver)"


def test_a_number_with_several_zones_is_quiet_from_the_earliest_evening(practice):
    practice.timezone = "Pacific/Honolulu"  # 5:30 PM there
    contact = contact_with(practice, "+16055550123")
    now = at(21, 30, ZoneInfo("America/Chicago"))  # only 8:30 PM in Denver, but night in Central
    assert consent.decide(contact, "automated", now).action == "delay"
    assert consent.decide(contact, "automated", at(20, 30, ZoneInfo("America/Chicago"))).action == "send"


def test_a_toll_free_number_follows_the_practice_clock_only(practice):
    contact = contact_with(practice, "+18005550123")  # maps to every NANP zone: says nothing
    assert consent.decide(contact, "automated", at(9, 30)).action == "send"
    assert consent.decide(contact, "automated", at(22)).reason.endswith("for the practice (New York)")


def test_a_staff_opt_in_request_waits_for_the_recipients_morning(practice):
    journey = factories.journey(factories.contact(practice, phone="+18085550123"))
    staff = db.session.get(User, factories.user(practice).id)
    msg = outbox.request_opt_in(journey, actor=staff, now=at(10))  # 5 AM in Honolulu
    db.session.commit()
    assert msg.status == "queued" and msg.not_before == at(8, zone=ZoneInfo("Pacific/Honolulu"))
    assert msg.consent_decision == "waits until 8:00 AM for the contact (Honolulu)"


def test_the_persons_own_text_is_still_answered_at_once(practice):
    journey = factories.journey(factories.contact(practice, phone="+18085550123"))
    msg = outbox.request_opt_in(journey, automatic=True, by_contact=True, now=at(10))
    assert msg is not None and msg.not_before is None


def test_staff_set_a_contacts_time_zone_and_see_the_quiet_hours_reason(staff_client, practice):
    contact = contact_with(practice, "+12125550123")
    url = f"/api/contacts/{contact.id}/time-zone"
    answer = staff_client.put(url, json={"time_zone": "Pacific/Honolulu"})
    assert answer.status_code == 200
    assert answer.get_json()["time_zone"] == "Pacific/Honolulu"
    assert answer.get_json()["quiet"].startswith(
        ("Daytime for the practice and the contact", "Quiet hours: ")
    )
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).time_zone == "Pacific/Honolulu"
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.time_zone")).all()
    assert event.target_id == contact.id and event.detail == {"time_zone": "Pacific/Honolulu", "was": None}
    cleared = staff_client.put(url, json={"time_zone": None})
    assert cleared.status_code == 200 and cleared.get_json()["time_zone"] is None


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "", 5, ["America/Chicago"], "../../etc/passwd"])
def test_an_unknown_time_zone_is_a_clear_400(staff_client, practice, bad):
    contact = contact_with(practice, "+12125550123")
    answer = staff_client.put(f"/api/contacts/{contact.id}/time-zone", json={"time_zone": bad})
    assert answer.status_code == 400 and "time zone" in answer.get_json()["error"]


def test_another_practices_contact_is_a_404(staff_client):
    other = factories.practice("Elsewhere")
    stranger = factories.contact(other, phone="+12125550199")
    answer = staff_client.put(f"/api/contacts/{stranger.id}/time-zone", json={"time_zone": "America/Chicago"})
    assert answer.status_code == 404
    db.session.expire_all()
    assert db.session.get(Contact, stranger.id).time_zone is None


def test_the_journey_page_offers_the_numbers_zone_and_the_common_us_zones(staff_client, practice):
    journey = factories.journey(contact_with(practice, "+18085550123"))
    page = staff_client.get(f"/journeys/{journey.id}").get_data(as_text=True)
    assert '<option value="">From the number (Honolulu)</option>' in page
    assert '<option value="America/Chicago">Central (Chicago)</option>' in page
    assert 'id="contact-quiet"' in page
