"""Search through the sealed index at 1 M messages / 100 k journeys, beside a bare SQLite LIKE over the
same texts in plaintext, same database file, same run: the price (or not) of keeping search sealed.

    .venv/bin/python -m bench.search_index --journeys 100000 --messages-per-journey 10 --queries 200

One practice holds everything (the worst case). Bodies are 6-18 words drawn from a 3,000-word vocabulary
with Zipf-like frequencies (so "appointment" is common and "quokka" rare), sealed with AES-GCM; their
terms are the index's own (`inbox.texting.search`), bulk-inserted. The sealed side times
`GET /api/search` in-process (Flask test client: server time, no network, audit and JSON included) and
`search.search()` alone. The bare side runs `SELECT id FROM plain WHERE body LIKE '%w1%' AND body LIKE
'%w2%' ORDER BY id DESC LIMIT 50` on a plaintext copy of the bodies (what an unsealed app would do).
Query mix: one rare word, one common word, two words, a name's first letters, a number's last four, and
eight words (the most a search may hold). Writes bench/results/search_index.json.

Generating 1 M messages takes the better part of an hour on a shared machine: `--keep DIR` keeps the
database (and the keys it was sealed with) in DIR, and `--reuse DIR` measures it again without
generating, e.g. after a change to the query.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bench.common import PASSWORD, AppEnv, machine, percentiles, save, seed

BATCH = 10_000
FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Chen",
    "Olivia",
    "Mateo",
    "Priya",
    "Noah",
    "Fatima",
    "Liam",
    "Sofia",
    "Kofi",
]
LAST = ["Lopez", "Smith", "Khan", "Wang", "Brown", "Garcia", "Patel", "Johnson", "Okafor", "Nguyen", "Silva"]


def vocabulary(size: int) -> tuple[list[str], list[float]]:
    """Made-up words with Zipf weights; the first dozen are real intake words (the common ones)."""
    common = [
        "appointment",
        "insurance",
        "thursday",
        "card",
        "session",
        "therapist",
        "evening",
        "tuesday",
        "waitlist",
        "referral",
        "copay",
        "reschedule",
    ]
    rng = random.Random(1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    made = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(size * 2)}
    words = common + sorted(made - set(common))[: size - len(common)]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return words, weights


def generate(journeys: int, per_journey: int, words: list[str], weights: list[float]) -> float:
    """Contacts, journeys, sealed messages and their index terms, plus the plaintext copy; seconds."""
    from inbox.crypto import keyring, phone_digest
    from inbox.extensions import db
    from inbox.models import Contact, Journey, Message, SearchTerm, new_uid
    from inbox.texting import search

    started = time.perf_counter()
    ring = keyring()
    rng = random.Random(7)
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    db.session.execute(text("CREATE TABLE plain (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    next_message = 1
    for first in range(0, journeys, BATCH):
        contacts, rows, msgs, terms, plain = [], [], [], [], []
        for j in range(first + 1, min(journeys, first + BATCH) + 1):
            cuid, juid, phone = new_uid(), new_uid(), f"+1{2000000000 + j}"
            given, family = FIRST[j % len(FIRST)], LAST[(j // len(FIRST)) % len(LAST)]
            contacts.append(
                {
                    "id": j,
                    "uid": cuid,
                    "practice_id": 1,
                    "phone_ct": ring.seal(phone.encode(), f"contact.phone:{cuid}"),
                    "phone_index": phone_digest(1, phone),
                    "first_name_ct": ring.seal(given.encode(), f"contact.first_name:{cuid}"),
                    "last_name_ct": ring.seal(family.encode(), f"contact.last_name:{cuid}"),
                    "consent_state": "opted_in",
                    "created_at": epoch,
                }
            )
            shell = Contact(practice_id=1, phone=phone, first_name=given, last_name=family)
            terms += [
                {"practice_id": 1, "digest": search.digest(1, t), "message_id": None, "contact_id": j}
                for t in search.contact_terms(shell)
            ]
            for k in range(per_journey):
                uid = new_uid()
                body = " ".join(rng.choices(words, weights, k=rng.randint(6, 18))).capitalize() + "."
                at = epoch + timedelta(seconds=j * 60 + k)
                msgs.append(
                    {
                        "id": next_message,
                        "uid": uid,
                        "practice_id": 1,
                        "journey_id": j,
                        "contact_id": j,
                        "direction": "inbound",
                        "kind": "inbound",
                        "body_ct": ring.seal(body.encode(), f"message.body:{uid}"),
                        "status": "received",
                        "flags": {},
                        "attempts": 0,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                terms += [
                    {
                        "practice_id": 1,
                        "digest": search.digest(1, t),
                        "message_id": next_message,
                        "contact_id": None,
                    }
                    for t in search.message_terms(body)
                ]
                plain.append({"id": next_message, "body": body})
                next_message += 1
            rows.append(
                {
                    "id": j,
                    "uid": juid,
                    "practice_id": 1,
                    "contact_id": j,
                    "pathway": "intake",
                    "stage_ct": ring.seal(b"New", f"journey.stage:{juid}"),
                    "is_open": True,
                    "is_inquiry": False,
                    "source": "sms",
                    "last_message_id": next_message - 1,
                    "last_activity_at": epoch + timedelta(seconds=j * 60 + per_journey),
                    "created_at": epoch,
                }
            )
        conn = db.session.connection()
        conn.execute(insert(Contact.__table__), contacts)
        conn.execute(insert(Journey.__table__), rows)
        conn.execute(insert(Message.__table__), msgs)
        conn.execute(insert(SearchTerm.__table__), terms)
        conn.execute(text("INSERT INTO plain (id, body) VALUES (:id, :body)"), plain)
        db.session.commit()
        print(f"  {min(journeys, first + BATCH)} journeys, {next_message - 1} messages", flush=True)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started


def queries(n: int, words: list[str], journeys: int) -> list[tuple[str, str]]:
    """(kind, query) pairs of the mix, drawn reproducibly."""
    rng = random.Random(11)
    kinds = []
    for i in range(n):
        kind = ("rare word", "common word", "two words", "name prefix", "last four", "eight words")[i % 6]
        if kind == "rare word":
            q = rng.choice(words[1000:])
        elif kind == "common word":
            q = rng.choice(words[:12])
        elif kind == "two words":
            q = f"{rng.choice(words[:12])} {rng.choice(words[12:400])}"
        elif kind == "name prefix":
            q = rng.choice(FIRST)[:4] + " " + rng.choice(LAST)
        elif kind == "last four":
            q = str(2000000000 + rng.randint(1, journeys))[-4:]
        else:  # the longest search allowed (search.MAX_WORDS), common and rarer words mixed
            q = " ".join([*rng.sample(words[:12], 4), *rng.sample(words[12:400], 4)])
        kinds.append((kind, q))
    return kinds


def like_sql(q: str) -> tuple[str, dict]:
    """The bare side: every word a LIKE over the plaintext bodies, newest first."""
    words = re.findall(r"\w+", q.lower())
    where = " AND ".join(f"lower(body) LIKE :w{i}" for i in range(len(words)))
    return (
        f"SELECT id FROM plain WHERE {where} ORDER BY id DESC LIMIT 50",
        {f"w{i}": f"%{w}%" for i, w in enumerate(words)},
    )


def measure(app, mix: list[tuple[str, str]]) -> dict:
    """Server time per query: the sealed search's endpoint and function, and the bare LIKE."""
    from inbox.extensions import db
    from inbox.texting import search

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"email": "staff0.p0@bench.example", "password": PASSWORD, "csrf_token": token}
    )
    out: dict = {}
    for _kind, q in mix[:5]:  # warm-up
        client.get("/api/search", query_string={"q": q})
    samples: dict[str, dict[str, list[float]]] = {}
    for kind, q in mix:
        per = samples.setdefault(kind, {"endpoint": [], "search": [], "like": [], "hits": []})
        started = time.perf_counter()
        answer = client.get("/api/search", query_string={"q": q})
        per["endpoint"].append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
        per["hits"].append(len(answer.get_json()["results"]))
        started = time.perf_counter()
        search.search(1, search.parse(q))
        per["search"].append((time.perf_counter() - started) * 1000)
        sql, params = like_sql(q)
        started = time.perf_counter()
        db.session.execute(text(sql), params).all()
        per["like"].append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    every = {"endpoint": [], "search": [], "like": []}
    for kind, per in samples.items():
        out[kind] = {
            side: {k: round(v, 2) for k, v in percentiles(per[side]).items()}
            for side in ("endpoint", "search", "like")
        }
        out[kind]["mean_hits"] = round(sum(per["hits"]) / len(per["hits"]), 1)
        for side in every:
            every[side] += per[side]
    out["all"] = {
        side: {k: round(v, 2) for k, v in percentiles(values).items()} for side, values in every.items()
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=100_000)
    parser.add_argument("--messages-per-journey", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vocabulary", type=int, default=3000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (for --reuse)")
    parser.add_argument("--reuse", metavar="DIR", help="measure what --keep generated into DIR")
    args = parser.parse_args()
    words, weights = vocabulary(args.vocabulary)
    env = AppEnv()
    kept = args.keep or args.reuse
    if kept:
        shutil.rmtree(env.dir)
        env.dir = Path(kept).resolve()
        saved = env.dir / "env.json"
        if args.reuse:
            env.env = json.loads(saved.read_text())
        else:
            env.dir.mkdir(parents=True)
            env.env |= {
                "DATABASE_URL": f"sqlite:///{env.dir / 'inbox.sqlite3'}",
                "INBOX_MEDIA_DIR": str(env.dir / "media"),
                "INBOX_INSTANCE_DIR": str(env.dir / "instance"),
            }
            saved.write_text(json.dumps(env.env))
    try:
        seconds = 0.0
        if not args.reuse:
            seed(env, 1, 1, 0)
        with env.app_context() as app:
            if not args.reuse:
                seconds = generate(args.journeys, args.messages_per_journey, words, weights)
            from inbox.extensions import db

            term_rows = db.session.execute(text("SELECT count(*) FROM search_terms")).scalar()
            result = measure(app, queries(args.queries, words, args.journeys))
        size = sum(f.stat().st_size for f in env.dir.glob("inbox.sqlite3*"))
        report = {
            "machine": machine(),
            "config": vars(args),
            "generate_seconds": round(seconds, 1),
            "messages": args.journeys * args.messages_per_journey,
            "term_rows": term_rows,
            "db_mib": round(size / 2**20, 1),
            "ms": result,
        }
        print(report["ms"]["all"], flush=True)
        print("wrote", save("search_index", report))
    finally:
        if not kept:
            env.cleanup()


if __name__ == "__main__":
    main()
