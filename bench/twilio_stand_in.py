"""Twilio's REST API for a bench's worker: tests/fake_twilio.py served in its own process.

    python -m bench.twilio_stand_in ACCOUNT_SID AUTH_TOKEN      (prints its URL, serves until killed)

A bench whose server runs the worker (push_latency --worker) points TWILIO_API_BASE_URL here, so every
welcome and opt-in request is accepted in one HTTP round trip, as Twilio would, instead of failing
against a closed port and being retried (which made the worker's retries a third of the server's CPU).
Its own process, so that its threads do not take the measuring client's GIL.
"""

from __future__ import annotations

import sys
import threading

from tests.fake_twilio import FakeTwilio


def main() -> None:
    """Serve with the bench's account credentials; print the URL on the first line."""
    account_sid, auth_token = sys.argv[1], sys.argv[2]
    fake = FakeTwilio()
    fake.account_sid, fake.auth_token = account_sid, auth_token
    fake.start()
    print(fake.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
