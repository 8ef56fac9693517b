"""Twilio: the REST gateway, its error codes in words, and the webhook check.

Every call to Twilio goes through one `Gateway`, an app extension that `create_app` sets: the real REST
API (`rest.TwilioGateway`), or in simulator mode the simulator's twin, which registers itself. Tests
pass the REST gateway pointed at a local fake. All three satisfy the protocol below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from flask import Flask, current_app

from inbox.gateway.rest import Alert, AvailableNumber, OwnedNumber, SendResult, TwilioGateway

EXTENSION = "inbox.gateway"


class Gateway(Protocol):
    """What the app asks of Twilio (or of its stand-ins)."""

    media_auth: tuple[str, str]  # the credentials Twilio's media URLs take (HTTP basic auth)

    def send_message(
        self, *, from_: str, to: str, body: str, status_callback: str | None = None
    ) -> SendResult: ...

    def delete_message(self, sid: str) -> None: ...

    def delete_media(self, media_url: str) -> None: ...

    def search_local_numbers(self, area_code: str, limit: int = 20) -> list[AvailableNumber]: ...

    def buy_number(self, e164: str, sms_url: str) -> OwnedNumber: ...

    def list_numbers(self) -> list[OwnedNumber]: ...

    def fetch_number(self, sid: str) -> OwnedNumber: ...

    def point_number(self, sid: str, sms_url: str) -> OwnedNumber: ...

    def webhook_alerts(self, since: datetime) -> list[Alert]: ...


def init_app(app: Flask) -> None:
    """The REST gateway for the configured account (simulator mode replaces it with its twin)."""
    use(
        app,
        TwilioGateway(
            app.config["TWILIO_ACCOUNT_SID"] or "",
            app.config["TWILIO_AUTH_TOKEN"] or "",
            api_base_url=app.config["TWILIO_API_BASE_URL"],
        ),
    )


def use(app: Flask, gateway: Gateway) -> None:
    """Make `gateway` the one every Twilio call of this app goes through."""
    app.extensions[EXTENSION] = gateway


def gateway_for(app: Flask | None = None) -> Gateway:
    """This app's gateway (default: the current app's)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions[EXTENSION]
