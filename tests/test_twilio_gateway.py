"""The Twilio gateway against a local fake of Twilio's API, through the real twilio client."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from twilio.request_validator import RequestValidator

from inbox.gateway.rest import SendError, SendResult, TwilioGateway
from tests.fake_twilio import FakeTwilio, sign

CLINIC = "+15005550006"
PATIENT = "+15551230001"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A started fake Twilio whose hangs outlast the gateway's short timeout."""
    with FakeTwilio(hang_seconds=2.0) as fake:
        yield fake


@pytest.fixture
def gateway(fake_twilio: FakeTwilio) -> TwilioGateway:
    """A gateway pointed at the fake, with a timeout short enough to keep tests fast."""
    return TwilioGateway(
        fake_twilio.account_sid, fake_twilio.auth_token, api_base_url=fake_twilio.url, timeout=0.5
    )


def send_error(gateway: TwilioGateway, to: str = PATIENT, body: str = "Hello") -> SendError:
    """Send and return the SendError that must be raised."""
    with pytest.raises(SendError) as info:
        gateway.send_message(from_=CLINIC, to=to, body=body)
    return info.value


def media_get(url: str, fake: FakeTwilio, allow_redirects: bool = True) -> requests.Response:
    """GET a media URL with the account's credentials."""
    auth = (fake.account_sid, fake.auth_token)
    return requests.get(url, auth=auth, timeout=5, allow_redirects=allow_redirects)


def test_send_reaches_twilio_with_its_fields_and_returns_sid_and_status(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    result = gateway.send_message(
        from_=CLINIC, to=PATIENT, body="Hi Sam", status_callback="https://inbox.test/twilio/status"
    )

    assert isinstance(result, SendResult)
    assert result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status == "queued"
    assert fake_twilio.sent == [
        {
            "sid": result.sid,
            "to": PATIENT,
            "from_": CLINIC,
            "body": "Hi Sam",
            "status_callback": "https://inbox.test/twilio/status",
            "media_urls": [],
        }
    ]


def test_media_only_send_is_accepted_with_every_media_url(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    urls = ["https://inbox.test/m/1.jpg", "https://inbox.test/m/2.jpg"]

    gateway.send_message(from_=CLINIC, to=PATIENT, body="", media_urls=urls)

    assert fake_twilio.sent[0]["media_urls"] == urls
    assert fake_twilio.sent[0]["body"] == ""


def test_wrong_credentials_are_a_final_authentication_error(fake_twilio: FakeTwilio) -> None:
    gateway = TwilioGateway(fake_twilio.account_sid, "0" * 32, api_base_url=fake_twilio.url)

    error = send_error(gateway)

    assert (error.code, error.http_status) == (20003, 401)
    assert not error.retryable and not error.ambiguous
    assert fake_twilio.sent == []


def test_unsubscribed_recipient_is_21610_and_not_retryable(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.unsubscribed.add(PATIENT)

    error = send_error(gateway)

    assert (error.code, error.http_status) == (21610, 400)
    assert not error.retryable and not error.ambiguous
    assert "unsubscribed" in error.reason
    assert fake_twilio.sent == []


@pytest.mark.parametrize("to", ["5551230001", "+1555-123", "+0123456789", "hello"])
def test_invalid_number_is_21211_and_the_reason_does_not_echo_it(gateway: TwilioGateway, to: str) -> None:
    error = send_error(gateway, to=to)

    assert error.code == 21211
    assert not error.retryable and not error.ambiguous
    # Twilio's own message quotes the number; ours must not (no ePHI in logs or UI errors).
    assert to not in error.reason and to not in str(error)


def test_empty_message_is_21602(gateway: TwilioGateway) -> None:
    error = send_error(gateway, body="")

    assert error.code == 21602
    assert not error.retryable


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429)])
def test_server_errors_and_rate_limits_are_retryable_and_a_retry_succeeds(
    gateway: TwilioGateway, fake_twilio: FakeTwilio, status: int, code: int
) -> None:
    fake_twilio.fail_next(status)

    error = send_error(gateway)

    assert (error.http_status, error.code) == (status, code)
    assert error.retryable and not error.ambiguous
    assert fake_twilio.sent == []
    assert gateway.send_message(from_=CLINIC, to=PATIENT, body="again").status == "queued"
    assert len(fake_twilio.sent) == 1


def test_gateway_timeout_from_a_proxy_is_ambiguous_not_retryable(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_next(504)

    error = send_error(gateway)

    assert error.ambiguous and not error.retryable


def test_timeout_after_twilio_received_the_send_is_ambiguous(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.drop_next_after_receipt()

    error = send_error(gateway)

    assert error.ambiguous and not error.retryable
    assert error.code is None and error.http_status is None
    assert len(fake_twilio.sent) == 1
    assert fake_twilio.send_attempts == 1  # the client did not quietly retry the POST


def test_connection_dropped_after_sending_is_ambiguous(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.drop_next_after_receipt(close=True)

    error = send_error(gateway)

    assert error.ambiguous and not error.retryable
    assert len(fake_twilio.sent) == 1


def test_refused_connection_is_retryable_because_nothing_was_sent() -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = TwilioGateway("AC" + "0" * 32, "x" * 32, api_base_url=f"http://127.0.0.1:{port}")

    error = send_error(gateway)

    assert error.retryable and not error.ambiguous


def test_fetch_message_status_follows_twilio(gateway: TwilioGateway, fake_twilio: FakeTwilio) -> None:
    sid = gateway.send_message(from_=CLINIC, to=PATIENT, body="Hello").sid
    assert gateway.fetch_message_status(sid) == "queued"

    fake_twilio.set_status(sid, "delivered")

    assert gateway.fetch_message_status(sid) == "delivered"


def test_fetch_of_an_unknown_message_is_a_final_404(gateway: TwilioGateway) -> None:
    with pytest.raises(SendError) as info:
        gateway.fetch_message_status("SM" + "0" * 32)

    assert (info.value.http_status, info.value.code) == (404, 20404)
    assert not info.value.retryable


def test_delete_message_removes_it_and_an_unknown_one_counts_as_gone(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    sid = gateway.send_message(from_=CLINIC, to=PATIENT, body="Hello").sid

    gateway.delete_message(sid)
    gateway.delete_message(sid)

    assert fake_twilio.deleted_messages == [sid]
    with pytest.raises(SendError):
        gateway.fetch_message_status(sid)


def test_delete_media_makes_a_later_authenticated_get_404(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    url = fake_twilio.add_media("MM" + "1" * 32, b"\xff\xd8\xffcard", "image/jpeg")
    before = media_get(url, fake_twilio)
    assert before.status_code == 200
    assert before.content == b"\xff\xd8\xffcard"
    assert before.headers["Content-Type"] == "image/jpeg"

    gateway.delete_media(url)
    gateway.delete_media(url)  # already gone is fine

    assert media_get(url, fake_twilio).status_code == 404
    assert fake_twilio.deleted_media == [url.rsplit("/", 1)[1]]


def test_delete_media_sends_credentials_only_to_twilio_whatever_the_url_host(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    url = fake_twilio.add_media("MM" + "1" * 32, b"GIF89a", "image/gif")
    forged = "https://attacker.invalid" + url.removeprefix(fake_twilio.url)

    gateway.delete_media(forged)  # would raise if it tried to reach attacker.invalid

    assert fake_twilio.deleted_media == [url.rsplit("/", 1)[1]]


def test_delete_media_refuses_a_url_that_is_not_twilio_media(gateway: TwilioGateway) -> None:
    with pytest.raises(SendError):
        gateway.delete_media("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")


def test_media_get_without_credentials_is_401_and_recorded(fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media("MM" + "1" * 32, b"%PDF-1.7", "application/pdf")

    response = requests.get(url, timeout=5)

    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert fake_twilio.media_requests[-1]["auth"] is False


def test_media_can_redirect_like_twilios_cdn(fake_twilio: FakeTwilio) -> None:
    target = "http://cdn.example.invalid/x.jpg"
    url = fake_twilio.add_media("MM" + "1" * 32, b"", "image/jpeg", redirect_to=target)

    response = media_get(url, fake_twilio, allow_redirects=False)

    assert response.status_code == 307
    assert response.headers["Location"] == target


def test_status_callback_params_are_what_twilio_posts_and_sign_validates(
    gateway: TwilioGateway, fake_twilio: FakeTwilio
) -> None:
    sid = gateway.send_message(from_=CLINIC, to=PATIENT, body="Hello").sid
    url = "https://inbox.test/twilio/status"

    params = fake_twilio.status_callback_params(sid, "undelivered", error_code=30003)

    assert params["MessageSid"] == params["SmsSid"] == sid
    assert params["MessageStatus"] == "undelivered" and params["ErrorCode"] == "30003"
    assert (params["From"], params["To"]) == (CLINIC, PATIENT)
    validator = RequestValidator(fake_twilio.auth_token)
    assert validator.validate(url, params, sign(url, params, fake_twilio.auth_token))
    assert gateway.fetch_message_status(sid) == "undelivered"
