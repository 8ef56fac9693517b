"""The cost of one signed webhook in this process: CPU time, SQL statements, pushes, and instructions.

    .venv/bin/python -m bench.webhook_cost --mode known --n 300
    .venv/bin/python -m bench.webhook_cost --mode new --n 300 --callgrind

Drives the Flask test client (no HTTP server, no eventlet) through `--n` signed webhooks after a
warm-up, from the seeded contacts (`known`: replies in open journeys) or from numbers never seen
(`new`: each starts an inquiry with its welcome and opt-in request). One staff socket (Socket.IO's
test client) listens in the practice room and one in the journey room of the first known contact, so
that pushes are encoded as in production. CPU time is this process's (`time.process_time`), which a
neighbour on a shared machine inflates far less than wall time; `--callgrind` counts instructions, which
a neighbour cannot inflate at all: it runs this script twice under valgrind (with `--n` and `2 × --n`
webhooks) and divides the difference, so start-up and warm-up cancel out. Writes
bench/results/webhook_cost_<mode>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import re
import subprocess
import sys
import time

from bench.common import (
    PASSWORD,
    AppEnv,
    contact_phone,
    inbound_form,
    machine,
    save,
    seed,
    signature,
)

COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
CONTACTS = 200


def form_for(env: AppEnv, mode: str, seq: int) -> dict[str, str]:
    """Webhook number `seq`: from a seeded contact, or from a number nobody has texted from."""
    form = inbound_form(env, 0, seq % CONTACTS, f"bench {seq}, is Tuesday still ok?")
    if mode == "new":
        form["From"] = f"+1415{2_000_000 + seq:07d}"
    return form


def run(mode: str, n: int, warmup: int, profile: str | None = None) -> dict:
    """Warm up, then send `n` webhooks; the figures per webhook."""
    env = AppEnv()
    try:
        seed(env, practices=1, staff_per_practice=1, contacts_per_practice=CONTACTS)
        os.environ.update(env.env)
        from sqlalchemy import event, select

        from inbox import create_app
        from inbox.extensions import db, socketio
        from inbox.models import Journey
        from inbox.texting.journeys import find_contact

        app = create_app()
        # No app context stays pushed: each request gets its own, as under a server.
        with app.app_context():
            contact = find_contact(1, contact_phone(0, 0))
            journey_id = db.session.scalar(select(Journey.id).where(Journey.contact_id == contact.id))
            engine = db.engine
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        match = CSRF.search(page)
        token = match.group(1) or match.group(2)
        answer = client.post(
            "/login", data={"email": "staff0.p0@bench.example", "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 302, answer.status_code
        sock = socketio.test_client(app, flask_test_client=client)
        sock.emit("join_journey", {"journey_id": journey_id}, callback=True)
        statements = [0]

        def count(*_args) -> None:
            statements[0] += 1

        twilio = app.test_client()  # Twilio has no login cookie: no session or user is loaded

        def post(form: dict[str, str], headers: dict[str, str]) -> None:
            answer = twilio.post("/twilio/messages", data=form, headers=headers)
            assert answer.status_code == 200, (answer.status_code, answer.get_data()[:200])

        def signed(seq: int) -> tuple[dict[str, str], dict[str, str]]:
            form = form_for(env, mode, seq)
            return form, {"X-Twilio-Signature": signature(env, form)}

        for seq in range(warmup):
            post(*signed(1_000_000 + seq))
        webhooks = [signed(seq) for seq in range(n)]
        sock.get_received()
        gc.collect()
        gc.freeze()  # the start-up heap and warm-up: a full collection of them is not a webhook's cost
        event.listen(engine, "before_cursor_execute", count)
        profiler = cProfile.Profile() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for form, headers in webhooks:
            post(form, headers)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profiler:
            profiler.dump_stats(profile)
        event.remove(engine, "before_cursor_execute", count)
        pushes = len(sock.get_received())
        # Follow-up work the webhook left to the worker (the inquiry's welcome), done here so
        # its cost is seen too, but outside the webhook's figures.
        follow_up = _follow_up(app)
        return {
            "mode": mode,
            "webhooks": n,
            "cpu_ms_per_webhook": round(cpu * 1000 / n, 3),
            "wall_ms_per_webhook": round(wall * 1000 / n, 3),
            "statements_per_webhook": round(statements[0] / n, 2),
            "pushes_received_per_webhook": round(pushes / n, 2),
            **follow_up,
        }
    finally:
        env.cleanup()


def _follow_up(app) -> dict:
    """Run the worker's follow-up pass until idle; its CPU per webhook (none if there is none)."""
    try:
        from inbox.texting.inbound import follow_up_due
    except ImportError:
        return {}
    cpu = time.process_time()
    done = 0
    with app.app_context():
        while step := follow_up_due():
            done += step
    cpu = time.process_time() - cpu
    return {"follow_ups": done, "follow_up_cpu_ms_each": round(cpu * 1000 / done, 3) if done else None}


def instructions(mode: str, n: int, warmup: int) -> int:
    """Instructions (callgrind's count) of one run of this script with `n` webhooks."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.webhook_cost",
        "--mode",
        mode,
        "--n",
        str(n),
        "--warmup",
        str(warmup),
        "--inner",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(COLLECTED.findall(done.stderr)[-1])


def main() -> None:
    """Parse arguments, measure, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("known", "new"), default="known")
    parser.add_argument("--n", type=int, default=300, help="measured webhooks")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--callgrind", action="store_true", help="also count instructions (slow)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the measured webhooks into FILE (pstats)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--save-as", default=None, help="results name (default webhook_cost_<mode>)")
    args = parser.parse_args()
    result = run(args.mode, args.n, args.warmup, args.profile)
    if args.inner:
        return
    if args.callgrind:
        small = instructions(args.mode, args.n, args.warmup)
        large = instructions(args.mode, 2 * args.n, args.warmup)
        result["instructions_per_webhook"] = round((large - small) / args.n)
    result["machine"] = machine()
    print(result, flush=True)
    print("saved", save(args.save_as or f"webhook_cost_{args.mode}", result))


if __name__ == "__main__":
    main()
