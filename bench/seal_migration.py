"""The migration that seals identifiers, on a database of 100 k plaintext contacts: time, progress, and a
scan of the file for any plaintext left, then the same with an interruption halfway and a resumed run.

    .venv/bin/python -m bench.seal_migration --contacts 100000

SQLite in WAL mode, in-process. Each contact has a journey (with a stage) and a consent event (with
evidence), so three tables are sealed. Writes bench/results/seal_migration.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import AppEnv, machine, save

PLAIN = re.compile(rb"Ottoline\d{6}|Vexworth\d{6}|\+1415\d{7}|ov\d{6}@ex\.org|Stagename\d{6}|Evidencia\d{6}")
PRACTICE = """INSERT INTO practices (id, name, timezone, public_token, require_opt_in, send_stop_confirmation,
    quiet_start, quiet_end, welcome_enabled, ephi_in_popups, delete_media_at_twilio, created_at)
    VALUES (1, 'Bench', 'America/New_York', 'tok', 1, 1, 1260, 480, 1, 1, 1, '2026-01-01')"""


def flask(env: AppEnv, *args: str, interrupt_after: float | None = None) -> tuple[float, str, int]:
    """Run `flask --app inbox ...` as a deployer would; optionally interrupt it after some seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "inbox", *args],
        env={**os.environ, **env.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if interrupt_after is not None:
        try:
            proc.wait(interrupt_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(2)  # Ctrl-C
    output = proc.communicate()[0]
    return time.perf_counter() - started, output, proc.returncode


def plaintext_db(env: AppEnv, contacts: int) -> str:
    """A database at schema 0006 holding the plaintext rows."""
    _, out, code = flask(env, "db", "upgrade", "0006")
    assert code == 0, out
    url = env.env["DATABASE_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(PRACTICE))
        conn.execute(
            text(
                "INSERT INTO contacts (id, practice_id, phone, first_name, last_name, email, consent_state, "
                "created_at) VALUES (:id, 1, :phone, :first, :last, :email, 'opted_in', '2026-01-01')"
            ),
            [
                {
                    "id": i,
                    "phone": f"+1415{i:07d}",
                    "first": f"Ottoline{i:06d}",
                    "last": f"Vexworth{i:06d}",
                    "email": f"ov{i:06d}@ex.org",
                }
                for i in range(1, contacts + 1)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO journeys (practice_id, contact_id, pathway, stage, is_open, is_inquiry, source, "
                "last_activity_at, created_at) VALUES (1, :c, 'intake', :stage, 1, 1, 'sms', '2026-01-01', "
                "'2026-01-01')"
            ),
            [{"c": i, "stage": f"Stagename{i:06d}"} for i in range(1, contacts + 1)],
        )
        conn.execute(
            text(
                "INSERT INTO consent_events (practice_id, contact_id, channel, state, source, evidence, "
                "created_at) VALUES (1, :c, 'sms', 'opted_in', 'sms_keyword', :e, '2026-01-01')"
            ),
            [{"c": i, "e": f"Evidencia{i:06d}"} for i in range(1, contacts + 1)],
        )
    engine.dispose()
    return url


def leftovers(url: str) -> int:
    """Plaintext identifiers found in the database file and its WAL."""
    path = Path(url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    return len(PLAIN.findall(raw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    result: dict = {"machine": machine(), "contacts": args.contacts}

    env = AppEnv()
    url = plaintext_db(env, args.contacts)
    result["plaintext_before"] = leftovers(url)
    seconds, out, code = flask(env, "db", "upgrade")
    assert code == 0, out
    result["straight"] = {
        "seconds": round(seconds, 1),
        "progress_lines": len(re.findall(r"sealing \w+: \d+/\d+", out)),
        "plaintext_after": leftovers(url),
    }
    print("straight run:", result["straight"], flush=True)

    env = AppEnv()
    url = plaintext_db(env, args.contacts)
    first, out1, code1 = flask(env, "db", "upgrade", interrupt_after=max(2.0, seconds / 3))
    done = re.findall(r"sealing (\w+): (\d+)/(\d+)", out1)
    second, out2, code2 = flask(env, "db", "upgrade")
    assert code2 == 0, out2
    result["interrupted"] = {
        "first_run_exit": code1,
        "first_run_seconds": round(first, 1),
        "sealed_before_interrupt": done[-1] if done else None,
        "resume_seconds": round(second, 1),
        "resume_says": [line for line in out2.splitlines() if "earlier run" in line],
        "plaintext_after": leftovers(url),
    }
    print("interrupted and resumed:", result["interrupted"], flush=True)
    print("wrote", save("seal_migration", result))


if __name__ == "__main__":
    main()
