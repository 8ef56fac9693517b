"""Signed SMS webhooks stored and pushed per second, the app beside the bare stack.

    .venv/bin/python -m bench.webhook_throughput --seconds 10 --connections 16 --listeners 10

wrk (apt-get install wrk) saturates the server from a second process with pre-signed, unique webhooks
(bench/wrk_post.lua); staff sockets of the practice listen in this process and count what was pushed.
The app runs as `python wsgi.py` (eventlet, SQLite in WAL mode, INBOX_RUN_WORKER=0); every text comes
from one of the seeded contacts, so each is a reply in an open journey (the steady state of an inbox).
Writes bench/results/webhook_throughput.json.

    .venv/bin/python -m bench.webhook_throughput --backend postgres --processes 2 --seconds 10

runs N server processes (bare and app alike) sharing the local Redis as their message queue, the app on
a fresh PostgreSQL database (dropped afterwards). The listeners are spread round-robin over the servers;
one wrk per server runs at once, with its share of the connections and of the (unique) webhooks, text
seq going to server seq % N. Counts and rates are summed, the latency percentiles are the slowest
server's (each server's wrk figures in `wrk_per_server`), the server CPU is summed over the processes,
and `server_rss_mib` is the largest process's (each in `server_rss_mib_per_process`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

from bench.common import (
    RESULTS,
    AppEnv,
    add_deployment_options,
    check_deployment,
    count_inbound,
    cpu_seconds,
    inbound_form,
    machine,
    rss_mib,
    running,
    sampled,
    save,
    seed,
    signature,
)
from bench.sockets import bare_specs, connect_all, disconnect_all, logins, popup

SEQ = re.compile(r"bench (\d+)")
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


class Load(NamedTuple):
    """One server's share of the run: its URL, its wrk connections, its file of `count` webhooks."""

    url: str
    connections: int
    requests_file: Path
    count: int


def write_requests(env: AppEnv, path: Path, seqs: range, contacts: int, numbers: int = 0) -> None:
    """The unique signed webhooks numbered `seqs`, one per line: signature TAB urlencoded form. With
    `numbers`, the texts rotate over that many numbers, of which only the first `contacts` are seeded:
    the others start an inquiry on their first text."""
    with open(path, "w") as out:
        for seq in seqs:
            form = inbound_form(env, 0, seq % contacts, f"bench {seq}")
            if numbers and seq % numbers >= contacts:
                form["From"] = f"+1415{2_000_000 + seq % numbers:07d}"
            out.write(f"{signature(env, form)}\t{urlencode(form)}\n")


def parse_wrk(text: str) -> dict:
    """Requests/sec, totals, errors and latency percentiles from wrk --latency output."""
    out: dict = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["wrk_requests_per_s"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+)(\w+),", text):
        out["requests"] = int(m.group(1))
        out["seconds"] = float(m.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(3)]
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        out["non_2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: (.*)", text):
        out["socket_errors"] = m.group(1).strip()
    for p in ("50", "90", "99"):
        if m := re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text):
            out[f"http_p{p}_ms"] = round(float(m.group(1)) * UNIT[m.group(2)], 2)
    return out


def merge_wrk(parts: list[dict]) -> dict:
    """One figure from each server's wrk: counts and rates summed, the longest run, the slowest server's
    latency percentiles, and each server's own figures beside them (a single server's figures as they are)."""
    if len(parts) == 1:
        return parts[0]
    merged: dict = {}
    for key in ("wrk_requests_per_s", "requests", "non_2xx"):
        if any(key in part for part in parts):
            merged[key] = round(sum(part.get(key, 0) for part in parts), 2)
    for key in ("seconds", "http_p50_ms", "http_p90_ms", "http_p99_ms"):
        if any(key in part for part in parts):
            merged[key] = max(part.get(key, 0) for part in parts)
    if errors := [part["socket_errors"] for part in parts if "socket_errors" in part]:
        merged["socket_errors"] = "; ".join(errors)
    merged["wrk_per_server"] = parts
    return merged


async def run_wrk(load: Load, seconds: int) -> str:
    """wrk against one server with its share of the connections and webhooks; returns its output."""
    wrk = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{load.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        "bench/wrk_post.lua",
        load.url,
        "--",
        str(load.requests_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return (await wrk.communicate())[0].decode()


async def drive(kind: str, env: AppEnv, specs, args, loads: list[Load], server_pids: list[int]) -> dict:
    """Connect the listeners, run a wrk per server at once, then count what was stored and heard."""
    heard: dict[int, set[int]] = {}

    def on_event(i: int, name: str, data) -> None:
        if (shown := popup(name, data)) and (m := SEQ.search(shown.get("snippet") or "")):
            heard.setdefault(i, set()).add(int(m.group(1)))

    clients = await connect_all(env.urls, specs, on_event)
    before = count_inbound(env) if kind == "app" else 0
    cpu_before = sum(map(cpu_seconds, server_pids))
    started = time.perf_counter()
    outputs = await asyncio.gather(*(run_wrk(load, args.seconds) for load in loads))
    elapsed = time.perf_counter() - started
    await asyncio.sleep(args.drain)
    rss = [round(rss_mib(pid), 1) for pid in server_pids]
    cpu_used = sum(map(cpu_seconds, server_pids)) - cpu_before
    await disconnect_all(clients)

    parts = [parse_wrk(output) for output in outputs]
    result = {"kind": kind, **merge_wrk(parts), "server_rss_mib": max(rss), "server_rss_mib_per_process": rss}
    seconds = result.get("seconds") or elapsed
    pushed = [len(s) for s in heard.values()] + [0] * (len(specs) - len(heard))
    result["pushed_to_every_socket"] = min(pushed)
    result["pushed_per_s"] = round(min(pushed) / seconds, 1)
    result["server_cpu_ms_per_webhook"] = round(cpu_used * 1000 / max(1, result.get("requests", 1)), 3)
    if kind == "app":
        result["stored"] = count_inbound(env) - before
        result["stored_per_s"] = round(result["stored"] / seconds, 1)
    if any(part.get("requests", 0) > load.count for part, load in zip(parts, loads, strict=True)):
        result["warning"] = "wrk ran out of unique webhooks: raise --requests"
    if failed := [
        output[-2000:]
        for part, output in zip(parts, outputs, strict=True)
        if "wrk_requests_per_s" not in part
    ]:
        result["wrk_output"] = "\n".join(failed)
    return result


def plan(env: AppEnv, args: argparse.Namespace) -> list[Load]:
    """Each server's share: connections split evenly, webhook seq in server seq % N's file."""
    n = len(env.urls)
    loads = []
    for k, url in enumerate(env.urls):
        seqs = range(k, args.requests, n)
        requests_file = env.dir / f"requests-{k}.tsv"
        write_requests(env, requests_file, seqs, args.contacts, args.numbers)
        connections = args.connections // n + (k < args.connections % n)
        loads.append(Load(url, connections, requests_file, len(seqs)))
    return loads


def run_side(kind: str, args) -> dict:
    """Start the servers, log their listeners in, generate the webhooks and measure."""
    env = AppEnv(backend=args.backend if kind == "app" else "sqlite", processes=args.processes)
    try:
        if kind == "app":
            emails = seed(env, 1, args.listeners, args.contacts)
        with running(env, kind) as servers:
            specs = logins(env, emails, args.listeners) if kind == "app" else bare_specs(1, args.listeners)
            loads = plan(env, args)
            # py-spy samples the (first) server.
            profile = RESULTS / "webhook_throughput_app.folded" if args.profile and kind == "app" else None
            with sampled(servers[0].pid, profile):
                return asyncio.run(drive(kind, env, specs, args, loads, [s.pid for s in servers]))
    finally:
        env.cleanup()


def main() -> None:
    """Bare stack, then the app, under the same load; prints and saves the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration (upper bound)")
    parser.add_argument("--connections", type=int, default=16, help="wrk keep-alive connections")
    parser.add_argument("--listeners", type=int, default=10, help="staff sockets of the practice")
    parser.add_argument("--contacts", type=int, default=200, help="seeded contacts the texts come from")
    parser.add_argument("--requests", type=int, default=40_000, help="unique webhooks (upper bound)")
    parser.add_argument("--numbers", type=int, default=0, help="rotate over N numbers (unseeded: new)")
    parser.add_argument("--save-as", default="webhook_throughput", help="results name")
    parser.add_argument("--drain", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2, help="bare/app pairs, order alternating")
    parser.add_argument("--profile", action="store_true", help="py-spy the app server (folded stacks)")
    add_deployment_options(parser)
    args = parser.parse_args()
    check_deployment(parser, args)
    if args.connections < args.processes:
        parser.error("--connections must be at least --processes (one wrk per server)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    results = {"machine": machine(), "config": vars(args).copy(), "rounds": []}
    for n in range(args.rounds):
        # Alternate the order (bare first, then app first): a noisy neighbour then hurts both alike.
        order = ("bare", "app") if n % 2 == 0 else ("app", "bare")
        round_result = {}
        for kind in order:
            print(f"round {n + 1} {kind}:", flush=True)
            round_result[kind] = run_side(kind, args)
            print(" ", round_result[kind], flush=True)
        bare, app = round_result["bare"], round_result["app"]
        if bare.get("pushed_per_s") and app.get("stored_per_s"):
            # The app's figure is what it both stored and pushed to every socket.
            app_rate = min(app["stored_per_s"], app["pushed_per_s"])
            round_result["ratio_app_over_bare"] = round(app_rate / bare["pushed_per_s"], 3)
            round_result["cpu_ratio_app_over_bare"] = round(
                app["server_cpu_ms_per_webhook"] / bare["server_cpu_ms_per_webhook"], 2
            )
            print(
                f"app {app_rate}/s vs bare {bare['pushed_per_s']}/s: ratio {round_result['ratio_app_over_bare']}; "
                f"server CPU per webhook app/bare {round_result['cpu_ratio_app_over_bare']}",
                flush=True,
            )
        results["rounds"].append(round_result)
    print("saved", save(args.save_as, results))


if __name__ == "__main__":
    main()
