"""Where a sampled server spends its CPU: py-spy's folded stacks grouped into a few buckets.

    .venv/bin/python -m bench.profile_summary bench/results/webhook_throughput_app.folded

A sample counts towards the owner of its innermost frame that has one: SQLAlchemy's frame that calls
the SQLite driver counts as SQLite, JSON encoding inside a Socket.IO packet as Socket.IO, a presenter's
own code as the app. py-spy leaves idle samples out by default: the shares are of the server's busy
time.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# (bucket, substrings of a frame "function (path:line)"); for one frame, the first bucket that matches.
BUCKETS = [
    ("SQLite commit (WAL write/fsync)", ("commit (sqlite3", "do_commit (sqlalchemy/engine/default.py")),
    ("SQLite statements (C driver)", ("do_execute (sqlalchemy", "do_executemany (sqlalchemy")),
    ("SQLAlchemy (ORM, Core, compile)", ("sqlalchemy/",)),
    ("Socket.IO emit", ("socketio/", "engineio/")),
    ("AES-GCM", ("cryptography/", "inbox/crypto.py")),
    ("Twilio signature / TwiML", ("twilio/",)),
    ("logging", ("logging/",)),
    ("Flask, Werkzeug, Flask-Login", ("flask/", "werkzeug/", "flask_login/", "flask_wtf/")),
    ("eventlet hub and WSGI server", ("eventlet/",)),
    ("app code (inbox/)", ("inbox/",)),
]


def _owner(frame: str) -> str | None:
    """The bucket a frame belongs to, if any."""
    return next((name for name, keys in BUCKETS if any(k in frame for k in keys)), None)


def summarise(path: Path) -> list[tuple[str, int, float]]:
    """(bucket, samples, share) for every bucket with samples, largest first, then 'other'."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        bucket = next((b for frame in reversed(stack.split(";")) if (b := _owner(frame))), "other")
        counts[bucket] += int(n)
    total = sum(counts.values()) or 1
    return [(name, n, n / total) for name, n in counts.most_common()]


def main() -> None:
    """Print the buckets of each folded-stack file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folded", nargs="+", type=Path)
    args = parser.parse_args()
    for path in args.folded:
        print(path)
        for name, n, share in summarise(path):
            print(f"  {share:6.1%}  {n:7d}  {name}")


if __name__ == "__main__":
    main()
