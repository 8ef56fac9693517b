"""Inbox list and thread page server time on a large generated dataset, with SQL statements per request.

    .venv/bin/python -m bench.large_inbox --journeys 100000 --messages-per-journey 10 --requests 200

Builds the data with Core bulk inserts (bodies really sealed with AES-GCM, so a thread decrypts as in
production) in one practice (the worst case: one practice's inbox holds every journey), then times
`GET /api/journeys` and `GET /api/journeys/<id>/messages` in-process (Flask test client: server time, no
network) and counts their SQL statements. Baselines in the same run: the same requests on a small
dataset (--small-journeys), and a bare Flask route returning the same JSON. SQLite in WAL mode.
Writes bench/results/large_inbox.json.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert

from bench.common import PASSWORD, AppEnv, machine, percentiles, save, seed

BATCH = 20_000


def generate(journeys: int, per_journey: int) -> float:
    """Contacts, journeys (newest last) and their messages for practice 1; returns seconds taken."""
    from inbox.crypto import keyring, phone_digest
    from inbox.extensions import db
    from inbox.models import Contact, Journey, Message, ReadMarker, new_uid

    started = time.perf_counter()
    ring = keyring()
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    next_message = 1
    user_id = 1
    for first in range(0, journeys, BATCH):
        ids = range(first + 1, min(journeys, first + BATCH) + 1)
        contacts, rows, msgs, markers = [], [], [], []
        for j in ids:
            cuid, juid, phone = new_uid(), new_uid(), f"+1{2000000000 + j}"
            contacts.append(
                {
                    "id": j,
                    "uid": cuid,
                    "practice_id": 1,
                    "phone_ct": ring.seal(phone.encode(), f"contact.phone:{cuid}"),
                    "phone_index": phone_digest(1, phone),
                    "first_name_ct": ring.seal(f"C{j}".encode(), f"contact.first_name:{cuid}"),
                    "last_name_ct": ring.seal(b"Bench", f"contact.last_name:{cuid}"),
                    "consent_state": "opted_in",
                    "created_at": epoch,
                }
            )
            for k in range(per_journey):
                uid = new_uid()
                inbound = k % 2 == 0
                at = epoch + timedelta(seconds=j * 60 + k)
                msgs.append(
                    {
                        "id": next_message,
                        "uid": uid,
                        "practice_id": 1,
                        "journey_id": j,
                        "contact_id": j,
                        "direction": "inbound" if inbound else "outbound",
                        "kind": "inbound" if inbound else "staff",
                        "body_ct": ring.seal(f"message {k} of journey {j}".encode(), f"message.body:{uid}"),
                        "status": "received" if inbound else "delivered",
                        "flags": {},
                        "attempts": 0,
                        "author_id": None if inbound else user_id,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                next_message += 1
            rows.append(
                {
                    "id": j,
                    "uid": juid,
                    "practice_id": 1,
                    "contact_id": j,
                    "pathway": "intake",
                    "stage_ct": ring.seal(b"New", f"journey.stage:{juid}"),
                    "is_open": j % 10 != 0,
                    "is_inquiry": False,
                    "source": "sms",
                    "last_message_id": next_message - 1,
                    "last_activity_at": epoch + timedelta(seconds=j * 60 + per_journey),
                    "created_at": epoch,
                }
            )
            if j % 2 == 0:  # staff has read half the journeys up to their second-last message
                markers.append(
                    {"user_id": user_id, "journey_id": j, "last_read_message_id": next_message - 2}
                )
        conn = db.session.connection()  # a commit releases the previous one
        conn.execute(insert(Contact.__table__), contacts)
        conn.execute(insert(Journey.__table__), rows)
        conn.execute(insert(Message.__table__), msgs)
        if markers:
            conn.execute(insert(ReadMarker.__table__), markers)
        db.session.commit()
        print(f"  {min(journeys, first + BATCH)} journeys, {next_message - 1} messages", flush=True)
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started


def measure(app, journeys: int, requests: int) -> dict:
    """p50/p95/p99 server time and statements per request of the inbox list and thread page."""
    from inbox.extensions import db

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    email = "staff0.p0@bench.example"
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
    rng = random.Random(7)
    out = {}
    for name, path in (
        ("inbox_list", lambda: "/api/journeys"),
        ("thread", lambda: f"/api/journeys/{rng.randint(1, journeys)}/messages"),
    ):
        times, counts = [], []
        for i in range(requests + 5):
            statements.clear()
            started = time.perf_counter()
            answer = client.get(path())
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 200, answer.status_code
            if i >= 5:  # warm-up
                times.append(elapsed)
                counts.append(len(statements))
        out[name] = {
            "ms": {k: round(v, 2) for k, v in percentiles(times).items()},
            "statements": sorted(set(counts)),
            "sample_json": answer.get_data(),
        }
    return out


def bare_flask(payloads: dict, requests: int) -> dict:
    """A bare Flask route answering the same JSON bytes: the framework's floor."""
    from flask import Flask

    app = Flask("bare")
    for name, body in payloads.items():
        app.add_url_rule(f"/{name}", name, lambda b=body: app.response_class(b, mimetype="application/json"))
    client = app.test_client()
    out = {}
    for name in payloads:
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(f"/{name}")
            times.append((time.perf_counter() - started) * 1000)
        out[name] = {"ms": {k: round(v, 3) for k, v in percentiles(times).items()}}
    return out


def run_size(journeys: int, per_journey: int, requests: int) -> dict:
    """Generate one dataset in a fresh database and measure it."""
    env = AppEnv()
    try:
        seed(env, 1, 1, 0)  # practice 1 with its staff member (user 1); contacts come from generate()
        with env.app_context() as app:
            seconds = generate(journeys, per_journey)
            result = measure(app, journeys, requests)
        size = sum(f.stat().st_size for f in env.dir.glob("inbox.sqlite3*"))  # with the WAL
        return {
            "journeys": journeys,
            "messages": journeys * per_journey,
            "generate_seconds": round(seconds, 1),
            "db_mib": round(size / 2**20, 1),
            **result,
        }
    finally:
        env.cleanup()


def main() -> None:
    """Small dataset, large dataset and bare Flask, in one run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=100_000)
    parser.add_argument("--messages-per-journey", type=int, default=10)
    parser.add_argument("--small-journeys", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    results = {"machine": machine(), "config": vars(args).copy()}
    for label, journeys in (("small", args.small_journeys), ("large", args.journeys)):
        print(f"{label}: {journeys} journeys x {args.messages_per_journey} messages", flush=True)
        results[label] = run_size(journeys, args.messages_per_journey, args.requests)
    payloads = {name: results["large"][name]["sample_json"] for name in ("inbox_list", "thread")}
    results["bare_flask"] = bare_flask(payloads, args.requests)
    for label in ("small", "large"):
        for name in ("inbox_list", "thread"):
            results[label][name].pop("sample_json")
    for name in ("inbox_list", "thread"):
        large, small = results["large"][name], results["small"][name]
        bare = results["bare_flask"][name]
        results[f"{name}_ratios"] = {
            "large_over_small_p99": round(large["ms"]["p99"] / small["ms"]["p99"], 2),
            "large_over_bare_p99": round(large["ms"]["p99"] / bare["ms"]["p99"], 1),
        }
        print(
            f"{name}: large p50 {large['ms']['p50']} p99 {large['ms']['p99']} ms, statements "
            f"{large['statements']} (small {small['statements']}); small p99 {small['ms']['p99']} ms; "
            f"bare Flask p99 {bare['ms']['p99']} ms",
            flush=True,
        )
    print("saved", save("large_inbox", results))


if __name__ == "__main__":
    main()
