"""1,000 held texts released by one opt-in: the YES webhook's cost, then order, duplicates and pacing.

    .venv/bin/python -m bench.held_release --held 1000

In-process (Flask test client, SQLite in WAL mode). A contact whose opt-in is pending has `--held` texts
held for consent; their YES arrives as a signed webhook. Measured: that webhook's time and SQL statements,
beside the same YES from a contact with nothing held (the baseline, same run). Then the outbox drains
through a recording gateway: every text must go out once, in id order; with the default pacing
(INBOX_SEND_INTERVAL, per sender number) one drain pass may hand over only one text.
Writes bench/results/held_release.json.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import event, func, insert, select

from bench.common import AppEnv, inbound_form, machine, save, seed, signature


class RecordingGateway:
    """Stands in for Twilio: records what was handed over, in order."""

    media_auth = None

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message(self, *, from_: str, to: str, body: str, status_callback: str):
        """Accept the text and give it a SID."""
        self.sent.append(body)
        return SimpleNamespace(sid="SM" + uuid.uuid4().hex, status="queued")


def hold(practice_id: int, contact_id: int, journey_id: int, number_id: int, count: int) -> None:
    """`count` staff texts held for consent, bodies sealed as compose() would."""
    from inbox.crypto import keyring
    from inbox.extensions import db
    from inbox.models import Message, new_uid, utcnow

    rows = []
    for i in range(count):
        uid = new_uid()
        rows.append(
            {
                "uid": uid,
                "practice_id": practice_id,
                "journey_id": journey_id,
                "contact_id": contact_id,
                "direction": "outbound",
                "kind": "staff",
                "status": "held_for_consent",
                "number_id": number_id,
                "body_ct": keyring().seal(f"held {i:05d}".encode(), f"message.body:{uid}"),
                "flags": {},
                "attempts": 0,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
        )
    db.session.execute(insert(Message.__table__), rows)
    db.session.commit()


def yes(app, env: AppEnv, contact_index: int) -> tuple[float, int]:
    """POST the contact's signed YES; returns (milliseconds, SQL statements)."""
    from inbox.extensions import db

    form = inbound_form(env, 0, contact_index, "YES")
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    answer = app.test_client().post(
        "/twilio/messages", data=form, headers={"X-Twilio-Signature": signature(env, form)}
    )
    elapsed = (time.perf_counter() - started) * 1000
    event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return elapsed, len(statements)


def main() -> None:
    """Baseline YES, the YES that releases the held texts, then the drain."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=1000)
    args = parser.parse_args()

    env = AppEnv()
    env.env["INBOX_SEND_INTERVAL"] = "1.0"  # the default pacing: one text per second per number
    results = {"machine": machine(), "config": vars(args).copy()}
    try:
        seed(env, 1, 1, 2)
        with env.app_context() as app:
            from inbox.extensions import db
            from inbox.models import Contact, Journey, Message, PracticeNumber, utcnow
            from inbox.texting.outbox import drain

            db.session.execute(db.update(Contact).values(consent_state="pending"))
            db.session.commit()
            number = db.session.scalar(select(PracticeNumber))
            journeys = list(db.session.scalars(select(Journey).order_by(Journey.id)))
            hold(1, journeys[1].contact_id, journeys[1].id, number.id, args.held)

            base_ms, base_statements = yes(app, env, 0)
            release_ms, release_statements = yes(app, env, 1)
            db.session.expire_all()
            queued = db.session.scalar(
                select(func.count()).where(
                    Message.contact_id == journeys[1].contact_id, Message.status == "queued"
                )
            )

            gateway = RecordingGateway()
            first_pass = drain(gateway, "bench", limit=50)
            # Then drain without pacing (past the first slot): order and duplicates are what matter here.
            app.config["INBOX_SEND_INTERVAL"] = 0
            started = time.perf_counter()
            passes = 0
            while drain(gateway, "bench", limit=50, now=utcnow() + timedelta(seconds=5)):
                passes += 1
            drain_seconds = time.perf_counter() - started
            held_sent = [b for b in gateway.sent if b.startswith("held ")]
            results.update(
                {
                    "baseline_yes": {"ms": round(base_ms, 1), "statements": base_statements},
                    "release_yes": {"ms": round(release_ms, 1), "statements": release_statements},
                    "ratio_ms": round(release_ms / base_ms, 1),
                    "released_to_queued": queued,
                    "first_pass_sent_with_pacing": first_pass,
                    "sent": len(held_sent),
                    "duplicates": len(held_sent) - len(set(held_sent)),
                    "in_id_order": held_sent == sorted(held_sent),
                    "drain_seconds_without_pacing": round(drain_seconds, 1),
                    "drain_passes": passes,
                    "paced_duration_estimate_s": args.held * 1.0,
                }
            )
    finally:
        env.cleanup()
    for key, value in results.items():
        if key not in ("machine", "config"):
            print(f"{key}: {value}")
    print("saved", save("held_release", results))


if __name__ == "__main__":
    main()
