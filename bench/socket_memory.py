"""Thousands of staff sockets on one server process: its memory at each step, then one text per practice.

    .venv/bin/python -m bench.socket_memory --steps 1000,2000,5000 --practices 50 --workers 4

The sockets are held by `--workers` client processes (python-socketio AsyncClients, one asyncio loop
each), so that the client side does not starve on one core. App sockets each log in through the real
form first (one login per socket, as one browser tab each); bare sockets just name their room. At each
step the server's resident memory (RSS) is read once the new sockets are in and the process has settled.
At the last step one text per practice is sent (signed webhooks, `--rate` per second) and every socket
of that practice must hear its `notify`: that proves the sockets are live, not only counted.
Writes bench/results/socket_memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import time

import requests

from bench.common import (
    AppEnv,
    Server,
    inbound_form,
    machine,
    percentiles,
    rss_mib,
    save,
    seed,
    signature,
)
from bench.sockets import bare_specs, connect_all, disconnect_all, logins

SEQ = re.compile(r"bench (\d+)")


def worker(conn) -> None:
    """A client process: connect the specs it is sent, record what its sockets hear, close on request."""
    asyncio.run(_serve(conn))


async def _serve(conn) -> None:
    """Answer the parent's commands while the sockets stay connected in this loop."""
    loop = asyncio.get_running_loop()
    clients = []
    heard: list[tuple[int, float]] = []  # (text seq, time.monotonic(): one clock for every process)

    def on_event(_i: int, name: str, data) -> None:
        if name == "notify" and (m := SEQ.search((data or {}).get("snippet") or "")):
            heard.append((int(m.group(1)), time.monotonic()))

    while True:
        command, *payload = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            url, specs = payload
            clients += await connect_all(url, specs, on_event, quiet=True)
            conn.send(len(clients))
        elif command == "status":
            conn.send((sum(c.connected for c in clients), heard))
        elif command == "close":
            await disconnect_all(clients)
            conn.send(len(clients))
            return


class Clients:
    """`n` client processes; specs are dealt round-robin so each practice spans every process."""

    def __init__(self, n: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for _ in range(n):
            parent, child = context.Pipe()
            process = context.Process(target=worker, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def connect(self, url: str, specs) -> float:
        """Connect these sockets as well; returns the seconds it took."""
        started = time.monotonic()
        for k, pipe in enumerate(self.pipes):
            pipe.send(("connect", url, specs[k :: len(self.pipes)]))
        for pipe in self.pipes:
            pipe.recv()
        return time.monotonic() - started

    def status(self) -> tuple[int, list[tuple[int, float]]]:
        """(sockets still connected, every (text seq, time) heard so far)."""
        connected, heard = 0, []
        for pipe in self.pipes:
            pipe.send(("status",))
            n, h = pipe.recv()
            connected += n
            heard += h
        return connected, heard

    def close(self) -> None:
        """Disconnect every socket and end the processes."""
        for pipe in self.pipes:
            pipe.send(("close",))
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            pipe.recv()
            process.join(timeout=30)


def texts(env: AppEnv, practices: int, rate: float) -> dict[int, float]:
    """One signed text per practice at `rate` per second; returns seq -> time.monotonic() sent."""
    sent: dict[int, float] = {}
    http = requests.Session()
    start = time.monotonic()
    for seq in range(practices):
        form = inbound_form(env, seq, 0, f"bench {seq}")
        time.sleep(max(0.0, start + seq / rate - time.monotonic()))
        sent[seq] = time.monotonic()
        answer = http.post(
            env.url + "/twilio/messages",
            data=form,
            headers={"X-Twilio-Signature": signature(env, form)},
            timeout=30,
        )
        answer.raise_for_status()
    return sent


def run_side(kind: str, args) -> dict:
    """One server: log in (app), connect the sockets step by step reading RSS, then the texts."""
    steps = sorted(args.steps)
    per_practice = steps[-1] // args.practices
    env = AppEnv()
    try:
        if kind == "app":
            emails = seed(env, args.practices, per_practice, 1)
        server = Server(env, kind)
        clients = Clients(args.workers)
        try:
            started = time.monotonic()
            if kind == "app":
                specs = logins(env, emails, per_practice)
            else:
                specs = bare_specs(args.practices, per_practice)
            # Staff 0 of every practice, then staff 1 of every practice...: each step spans all practices.
            ordered = sorted(enumerate(specs), key=lambda item: (item[0] % per_practice, item[1][0]))
            specs = [spec for _n, spec in ordered]
            result = {
                "kind": kind,
                "login_seconds": round(time.monotonic() - started, 1) if kind == "app" else None,
                "rss_mib_before_sockets": round(rss_mib(server.pid), 1),
                "steps": [],
            }
            done = 0
            for step in steps:
                seconds = clients.connect(env.url, specs[done:step])
                done = step
                time.sleep(args.settle)
                connected, _ = clients.status()
                rss = rss_mib(server.pid)
                grown = rss - result["rss_mib_before_sockets"]
                result["steps"].append(
                    {
                        "sockets": step,
                        "connected": connected,
                        "connect_seconds": round(seconds, 1),
                        "rss_mib": round(rss, 1),
                        "kib_per_socket": round(grown * 1024 / step, 1),
                    }
                )
                print(f"  {kind} {result['steps'][-1]}", flush=True)
            sent = texts(env, args.practices, args.rate)
            time.sleep(args.drain)
            connected, heard = clients.status()
            latencies = [(t - sent[seq]) * 1000 for seq, t in heard if seq in sent]
            result["texts"] = {
                "sent": len(sent),
                "deliveries": len(latencies),
                "expected_deliveries": steps[-1],
                "still_connected": connected,
                "push_ms": {k: round(v, 1) for k, v in percentiles(latencies).items()},
            }
            result["rss_mib_after_texts"] = round(rss_mib(server.pid), 1)
            print(f"  {kind} texts {result['texts']}", flush=True)
            return result
        finally:
            clients.close()
            server.stop()
    finally:
        env.cleanup()


def main() -> None:
    """Bare stack, then the app (or the other way round), at the same steps."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=lambda s: [int(n) for n in s.split(",")], default=[1000, 2000, 5000])
    parser.add_argument("--practices", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="client processes holding the sockets")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before reading RSS")
    parser.add_argument("--rate", type=float, default=10.0, help="texts per second at the last step")
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--order", default="bare,app")
    args = parser.parse_args()

    results = {"machine": machine(), "config": vars(args).copy()}
    for kind in args.order.split(","):
        print(f"{kind}:", flush=True)
        results[kind] = run_side(kind, args)
    print("saved", save("socket_memory", results))


if __name__ == "__main__":
    main()
