"""Admins set up the practice's texting number: buy or attach it, and check its webhook end to end."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.gateway import gateway_for, webhook_check
from inbox.gateway.errors import NUMBER_REASONS
from inbox.gateway.rest import SendError, TwilioGateway
from inbox.models import AuditEvent, PracticeNumber
from inbox.web.admin import numbers
from inbox.web.admin.numbers import NumberProblem
from tests import factories
from tests.conftest import PUBLIC_URL, StaffClient, running_app
from tests.test_compliance import admin_browser

pytest_plugins = ["tests.live_server"]  # the live_server fixture
WEBHOOK = PUBLIC_URL + "/twilio/messages"


def flashes(browser: StaffClient, response) -> list[str]:
    """Follow a POST-redirect-GET and return the flash messages the page shows."""
    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    return [unescape(m) for m in re.findall(r'<p class="flash flash-\w+"[^>]*>([^<]*)</p>', page)]


def audit_actions(action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def stored(e164: str) -> PracticeNumber | None:
    """The practice number with this E.164, as the database has it now."""
    db.session.expire_all()
    return db.session.scalar(select(PracticeNumber).where(PracticeNumber.e164 == e164))


def twilio_number(app, fake_twilio, practice, e164: str = "+12125550100", sms_url: str | None = None):
    """A number the account owns, attached to `practice`, with Twilio sending its texts to sms_url."""
    owned = fake_twilio.own_number(
        e164, sms_url=sms_url or app.config["INBOX_PUBLIC_URL"] + "/twilio/messages"
    )
    number = PracticeNumber(practice_id=practice.id, e164=e164, twilio_sid=owned["sid"])
    db.session.add(number)
    db.session.commit()
    return number


def results(app, number, **kwargs) -> dict[str, webhook_check.CheckResult]:
    """Run the webhook check on a number; its results by name."""
    return {r.name: r for r in webhook_check.check_webhook(gateway_for(), number, **kwargs)}


# -- search and buy ---------------------------------------------------------------------------


def test_search_offers_local_numbers_of_the_area_code(app, practice, fake_twilio, admin_client):
    offers = numbers.search(gateway_for(), "415")
    assert offers and all(o.e164.startswith("+1415") for o in offers)
    page = admin_client.get("/admin/numbers?area_code=415").get_data(as_text=True)
    assert "(415) 555-0100" in page and 'name="e164" value="+14155550100"' in page


@pytest.mark.parametrize("area_code", ["", "41", "4155", "015", "abc"])
def test_search_refuses_what_is_not_an_area_code(app, area_code):
    with pytest.raises(NumberProblem, match="three-digit US area code"):
        numbers.search(gateway_for(), area_code)


def test_buying_points_the_number_at_our_webhook_and_stores_it(
    app, practice, fake_twilio, admin_client, admin
):
    answer = admin_client.post("/admin/numbers/buy", data={"e164": "+14155550101", "area_code": "415"})
    assert "(415) 555-0101 is the practice's now" in flashes(admin_client, answer)[0]
    at_twilio = fake_twilio.number_by_e164("+14155550101")
    assert (at_twilio["sms_url"], at_twilio["sms_method"], at_twilio["sms_fallback_url"]) == (
        WEBHOOK,
        "POST",
        "",
    )
    number = stored("+14155550101")
    assert (number.practice_id, number.twilio_sid) == (practice.id, at_twilio["sid"])
    [event] = audit_actions("number.buy")
    assert (event.user_id, event.target_id, event.detail) == (
        admin.id,
        number.id,
        {"twilio_sid": number.twilio_sid},
    )
    assert "+14155550101" not in str(event.detail)  # ids only, no phone numbers
    assert "+14155550101" not in [o.e164 for o in numbers.search(gateway_for(), "415")]


def test_buying_a_number_someone_just_took_says_so_and_stores_nothing(
    app, practice, fake_twilio, admin_client
):
    fake_twilio.take_number("+14155550102")
    answer = admin_client.post("/admin/numbers/buy", data={"e164": "+14155550102", "area_code": "415"})
    assert answer.headers["Location"].endswith("/admin/numbers?area_code=415")
    assert flashes(admin_client, answer) == [NUMBER_REASONS[21422]]
    assert stored("+14155550102") is None and fake_twilio.number_by_e164("+14155550102") is None
    assert audit_actions("number.buy") == []


def test_a_number_another_practice_has_is_never_bought(app, practice, fake_twilio):
    other = factories.practice(name="Other", number="+14155550103")
    with pytest.raises(NumberProblem, match="another practice"):
        numbers.buy(gateway_for(), practice, "+14155550103")
    assert stored("+14155550103").practice_id == other.id
    assert fake_twilio.number_by_e164("+14155550103") is None


# -- attach -----------------------------------------------------------------------------------


def test_attaching_an_owned_number_points_it_here(app, practice, fake_twilio, admin_client, admin):
    owned = fake_twilio.own_number("+12125550100", sms_url="https://old.example/sms")
    page = admin_client.get("/admin/numbers?owned=1").get_data(as_text=True)
    assert "https://old.example/sms" in page and f'value="{owned["sid"]}"' in page
    answer = admin_client.post("/admin/numbers/attach", data={"sid": owned["sid"]})
    assert "(212) 555-0100 now sends its texts to this inbox." in flashes(admin_client, answer)
    assert fake_twilio.number_by_e164("+12125550100")["sms_url"] == WEBHOOK
    number = stored("+12125550100")
    assert (number.practice_id, number.twilio_sid) == (practice.id, owned["sid"])
    [event] = audit_actions("number.attach")
    assert (event.user_id, event.target_id, event.detail["again"]) == (admin.id, number.id, False)


def test_a_number_attached_to_another_practice_is_refused_and_left_alone(
    app, practice, fake_twilio, admin_client
):
    other = factories.practice(name="Other", number="+15005550999")
    elsewhere = twilio_number(app, fake_twilio, other, sms_url="https://other.example/sms")
    page = admin_client.get("/admin/numbers?owned=1").get_data(as_text=True)
    assert "Another practice" in page and f'value="{elsewhere.twilio_sid}"' not in page
    answer = admin_client.post("/admin/numbers/attach", data={"sid": elsewhere.twilio_sid})
    assert flashes(admin_client, answer) == [
        "(212) 555-0100 is already the texting number of another practice in Intake Inbox. "
        "An admin of that practice has to detach it first."
    ]
    assert fake_twilio.number_by_e164("+12125550100")["sms_url"] == "https://other.example/sms"
    assert stored("+12125550100").practice_id == other.id
    assert audit_actions("number.attach") == []


@pytest.mark.parametrize("sid", ["", "PN123", "../Messages", "PN" + "g" * 32])
def test_attach_takes_only_a_number_sid(app, practice, sid):
    with pytest.raises(NumberProblem, match="Pick a number"):
        numbers.attach(gateway_for(), practice, sid)


def test_attaching_a_number_the_account_does_not_own_is_refused(app, practice, fake_twilio):
    with pytest.raises(NumberProblem, match="does not have this number"):
        numbers.attach(gateway_for(), practice, "PN" + "0" * 32)


def test_detach_forgets_a_number_without_texts_only(app, practice, fake_twilio, inbound, admin_client):
    spare = twilio_number(app, fake_twilio, practice)
    assert "is detached" in flashes(admin_client, admin_client.post(f"/admin/numbers/{spare.id}/detach"))[0]
    assert stored("+12125550100") is None and audit_actions("number.detach")
    assert inbound("Hello", to="+15005550006").status_code == 200
    used = stored("+15005550006")
    answer = admin_client.post(f"/admin/numbers/{used.id}/detach")
    assert flashes(admin_client, answer) == ["(500) 555-0006 has texts in the inbox, so it stays attached."]
    assert stored("+15005550006") is not None


# -- the webhook check ------------------------------------------------------------------------


def test_check_is_green_when_twilio_and_the_public_url_both_lead_here(
    app, practice, fake_twilio, live_server
):
    app.config["INBOX_PUBLIC_URL"] = live_server.url  # as Twilio would see the deployment
    number = twilio_number(app, fake_twilio, practice)
    checked = results(app, number)
    assert {name: r.ok for name, r in checked.items()} == {"twilio": True, "reach": True, "alerts": True}
    assert checked["reach"].message == (
        f"Twilio can reach this app at {live_server.url}/twilio/check, and the signature validates."
    )
    [event] = audit_actions("number.check")
    assert (event.target_id, event.detail) == (number.id, {"ok": True, "problems": []})


def test_check_says_where_twilio_sends_the_texts_instead(app, practice, fake_twilio):
    number = twilio_number(app, fake_twilio, practice, sms_url="https://old.example/sms")
    assert results(app, number)["twilio"] == webhook_check.CheckResult(
        "twilio",
        False,
        f"Twilio sends this number's texts to https://old.example/sms, not to {WEBHOOK}. "
        "Use “Point it here” to fix it.",
    )
    fake_twilio.number_by_e164(number.e164).update(sms_url=WEBHOOK, sms_method="GET")
    assert "with HTTP GET" in results(app, number)["twilio"].message


def test_check_finds_a_number_set_up_before_sids_were_kept(app, practice, fake_twilio):
    number = stored("+15005550006")  # created by the CLI: no SID
    assert "not in the Twilio account" in results(app, number)["twilio"].message
    owned = fake_twilio.own_number("+15005550006", sms_url=WEBHOOK)
    assert results(app, number)["twilio"].ok
    assert stored("+15005550006").twilio_sid == owned["sid"]


def test_check_says_when_the_public_url_does_not_answer(app, practice, fake_twilio):
    from tests.live_server import free_port  # late: pytest loads that module as a plugin

    app.config["INBOX_PUBLIC_URL"] = f"http://127.0.0.1:{free_port()}"
    number = twilio_number(app, fake_twilio, practice)
    reach = results(app, number)["reach"]
    assert not reach.ok and reach.message.startswith(f"Nothing answers at {app.config['INBOX_PUBLIC_URL']}")


def test_check_says_when_something_else_answers(app, practice, fake_twilio):
    app.config["INBOX_PUBLIC_URL"] = fake_twilio.url  # a server, but not this app
    number = twilio_number(app, fake_twilio, practice)
    reach = results(app, number)["reach"]
    assert reach.message == (
        f"Something other than this app answered at {fake_twilio.url}/twilio/check (HTTP 401). "
        "Check that the proxy sends /twilio/ addresses to this app."
    )


def test_check_says_when_the_app_refuses_the_signature(app, practice, fake_twilio, live_server):
    # The server validates signatures against http://127.0.0.1:PORT; Twilio (and the probe) call it by
    # another name for the same address, as when INBOX_PUBLIC_URL differs between processes.
    app.config["INBOX_PUBLIC_URL"] = live_server.url.replace("127.0.0.1", "localhost")
    number = twilio_number(app, fake_twilio, practice)
    reach = results(app, number)["reach"]
    assert not reach.ok
    assert reach.message.startswith("The probe reached this app at http://localhost:")
    assert "the signature did not validate there" in reach.message
    assert [e.detail["path"] for e in audit_actions("webhook.bad_signature")] == ["/twilio/check"]
    assert audit_actions("number.check")[-1].detail == {"ok": False, "problems": ["reach"]}


def test_check_reports_twilios_recent_delivery_failures(app, practice, fake_twilio):
    number = twilio_number(app, fake_twilio, practice)
    fake_twilio.add_alert("11200", WEBHOOK)
    fake_twilio.add_alert("11200", "https://elsewhere.example/sms")  # another app's trouble
    alerts = results(app, number)["alerts"]
    assert not alerts.ok and alerts.message.startswith(f"Twilio reported 1 failed call(s) to {WEBHOOK}")


def test_the_page_shows_each_result_and_keeps_the_latest_status(
    app, practice, fake_twilio, admin_client, admin
):
    number = twilio_number(app, fake_twilio, practice, sms_url="https://old.example/sms")
    shown = flashes(admin_client, admin_client.post(f"/admin/numbers/{number.id}/check"))
    assert shown[0].startswith("Problem: Twilio sends this number's texts to https://old.example/sms")
    assert any(m.startswith("Problem: Nothing answers at https://inbox.example.test") for m in shown)
    assert "OK: Twilio reported no failed calls" in shown[-1]
    page = admin_client.get("/admin/numbers").get_data(as_text=True)
    assert "Problem with Twilio&#39;s setting, reaching the app" in page
    [event] = audit_actions("number.check")
    assert (event.user_id, event.detail["problems"]) == (admin.id, ["twilio", "reach"])


def test_point_it_here_fixes_the_twilio_setting(app, practice, fake_twilio, admin_client):
    number = twilio_number(app, fake_twilio, practice, sms_url="https://old.example/sms")
    admin_client.post("/admin/numbers/attach", data={"sid": number.twilio_sid})
    assert results(app, number)["twilio"].ok
    assert audit_actions("number.attach")[0].detail["again"] is True


# -- who may -----------------------------------------------------------------------------------


def test_only_admins_of_the_practice_set_up_its_numbers(
    app, practice, staff_client, fake_twilio, admin_client
):
    number = stored("+15005550006")
    assert staff_client.get("/admin/numbers").status_code == 403
    assert staff_client.post(f"/admin/numbers/{number.id}/check").status_code == 403
    assert staff_client.post("/admin/numbers/buy", data={"e164": "+14155550101"}).status_code == 403
    assert app.test_client().get("/admin/numbers").headers["Location"].startswith("/login")
    other = factories.practice(name="Other", number="+15005550999")
    outsider, _ = admin_browser(app, other, email="boss@other.example")
    assert outsider.post(f"/admin/numbers/{number.id}/check").status_code == 404
    assert outsider.post(f"/admin/numbers/{number.id}/detach").status_code == 404
    assert "(500) 555-0006" not in outsider.get("/admin/numbers").get_data(as_text=True)
    assert audit_actions("number.check") == [] and fake_twilio.number_by_e164("+14155550101") is None


def test_the_admin_nav_lists_the_page(app, practice, admin_client):
    assert 'href="/admin/numbers" aria-current="page">Texting numbers' in admin_client.get(
        "/admin/numbers"
    ).get_data(as_text=True)


# -- the gateway and the simulator --------------------------------------------------------------


def test_gateway_pages_through_long_lists_and_says_plainly_what_failed(fake_twilio):
    for i in range(60):  # more than one page of 50
        fake_twilio.own_number(f"+1212555{1000 + i}")
    gateway = TwilioGateway(fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url)
    assert len(gateway.list_numbers()) == 60
    wrong = TwilioGateway(fake_twilio.account_sid, "not-the-token", api_base_url=fake_twilio.url)
    with pytest.raises(SendError) as info:
        wrong.search_local_numbers("415")
    assert (info.value.http_status, info.value.reason) == (401, "Twilio rejected the account credentials.")


@pytest.fixture
def sim_app(app_env, monkeypatch):
    """The app without Twilio credentials: simulator mode."""
    monkeypatch.delenv("TWILIO_ACCOUNT_SID")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    yield from running_app()


def test_simulator_mode_offers_made_up_numbers_and_stores_a_purchase(sim_app):
    practice = factories.practice(number="+15005550006")
    browser, _ = admin_browser(sim_app, practice)
    page = browser.get("/admin/numbers?area_code=303&owned=1").get_data(as_text=True)
    assert "Simulator mode" in page and "(303) 555-0100" in page and "(500) 555-0006" in page
    bought = flashes(browser, browser.post("/admin/numbers/buy", data={"e164": "+13035550100"}))
    assert bought == ["(303) 555-0100 is the practice's now. Its texts come to this inbox."]
    number = stored("+13035550100")
    assert number.practice_id == practice.id and number.twilio_sid.startswith("PN")
    gateway = gateway_for()
    assert "+13035550100" not in [o.e164 for o in gateway.search_local_numbers("303")]
    with pytest.raises(SendError) as gone:
        gateway.buy_number("+13035550100", WEBHOOK)
    assert gone.value.code == 21422
    shown = flashes(browser, browser.post(f"/admin/numbers/{number.id}/check"))
    assert shown == [
        "OK: Simulator mode: there is no Twilio account to check. Texts to this number come from the phone "
        "simulator, through the same signed webhook."
    ]
