"""Webhook -> socket push latency at a fixed rate, the app beside the bare stack, in one run.

    .venv/bin/python -m bench.push_latency --practices 50 --sockets-per-practice 10 --rate 100 --seconds 20

Open loop: texts are sent on a fixed schedule (not waiting for answers), each to one practice in turn,
signed like Twilio's, from a seeded contact. Every staff socket of that practice must hear the `notify`
popup; the latency of each delivery is (socket heard it) - (webhook POST started), measured in this
process. Also reported: the webhook's HTTP answer time and the server's resident memory with the sockets
connected. Writes bench/results/push_latency.json and push_latency.png.

    .venv/bin/python -m bench.push_latency --backend postgres --processes 2 --worker ...

runs N server processes (bare and app alike) sharing the local Redis as their message queue, the app on
a fresh PostgreSQL database (dropped afterwards): socket i connects (and logs in) to server i % N, text
seq is posted to server seq % N, the embedded worker (--worker) runs in the first process only. The
server CPU per message is summed over the processes; each RSS figure is the largest process's, with
every process's beside it (`*_per_process`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bench.common import (
    RESULTS,
    AppEnv,
    add_deployment_options,
    check_deployment,
    cpu_seconds,
    inbound_form,
    machine,
    percentiles,
    rss_mib,
    running,
    sampled,
    save,
    seed,
    signature,
    twilio_stand_in,
)
from bench.sockets import bare_specs, connect_all, disconnect_all, logins, popup

SEQ = re.compile(r"bench (\d+)")


def rss_each(pids: list[int]) -> list[float]:
    """Each server process's resident memory (MiB, one decimal)."""
    return [round(rss_mib(pid), 1) for pid in pids]


async def drive(kind: str, env: AppEnv, specs, args) -> dict:
    """Connect the sockets, send texts at the fixed rate, and collect every delivery's latency."""
    practices = args.practices
    sent: dict[int, float] = {}
    deliveries: dict[int, list[float]] = {}
    http_ms: list[float] = []
    errors: list[str] = []

    def on_event(_i: int, name: str, data) -> None:
        shown = popup(name, data)
        if not shown:
            return
        now = time.perf_counter()
        match = SEQ.search(shown.get("snippet") or "")
        if match and int(match.group(1)) in sent:
            deliveries.setdefault(int(match.group(1)), []).append(now)

    clients = await connect_all(env.urls, specs, on_event)
    await asyncio.sleep(1)
    rss_connected = rss_each(args.server_pids)
    cpu_before = sum(map(cpu_seconds, args.server_pids))

    async def post(session: aiohttp.ClientSession, seq: int) -> None:
        practice = seq % practices
        form = inbound_form(env, practice, (seq // practices) % args.contacts, f"bench {seq}")
        if int((seq + 1) * args.new_share) > int(seq * args.new_share):
            form["From"] = f"+1415{2_000_000 + seq:07d}"  # a number never seen: a new inquiry
        headers = {
            "X-Twilio-Signature": signature(env, form),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = urlencode(form)
        # Round-robin over the servers, signed for the public URL (the first's) as behind a balancer.
        server = env.urls[seq % len(env.urls)]
        started = time.perf_counter()
        sent[seq] = started
        try:
            async with session.post(server + "/twilio/messages", data=body, headers=headers) as answer:
                await answer.read()
                if answer.status != 200:
                    errors.append(f"HTTP {answer.status}")
        except aiohttp.ClientError as exc:
            errors.append(type(exc).__name__)
        http_ms.append((time.perf_counter() - started) * 1000)

    total = int(args.rate * (args.seconds + args.warmup))
    warm = int(args.rate * args.warmup)
    late = 0
    tasks = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        t0 = time.perf_counter()
        window = [time.time()]  # the measured run, in the GC probe's clock

        async def lane(first: int, step: int) -> int:
            """Texts first, first+step, ...: each waits for the one before's answer, as a Twilio
            connection does, and goes at its due time or as soon as that answer came."""
            behind = 0
            for seq in range(first, total, step):
                delay = t0 + seq / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.005:
                    behind += 1
                await post(session, seq)
            return behind

        if args.lanes:
            late = sum(await asyncio.gather(*(lane(i, args.lanes) for i in range(args.lanes))))
        else:
            for seq in range(total):
                due = t0 + seq / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.005:
                    late += 1
                tasks.append(asyncio.create_task(post(session, seq)))
            await asyncio.gather(*tasks)
        await asyncio.sleep(args.drain)
        window.append(time.time())
    rss_after = rss_each(args.server_pids)
    cpu_used = sum(map(cpu_seconds, args.server_pids)) - cpu_before
    await disconnect_all(clients)

    per_practice = len(specs) // practices
    latencies, timeline, missing = [], [], 0
    for seq in range(warm, total):
        heard = deliveries.get(seq, [])
        missing += max(0, per_practice - len(heard))
        for t in heard:
            ms = (t - sent[seq]) * 1000
            latencies.append(ms)
            timeline.append((sent[seq] - sent[warm], ms))
    return {
        "kind": kind,
        "sockets": len(specs),
        "messages_measured": total - warm,
        "deliveries": len(latencies),
        "missing_deliveries": missing,
        "errors": len(errors),
        "late_sends": late,
        "push_ms": percentiles(latencies),
        "http_ms": percentiles(http_ms[warm:]),
        "server_cpu_ms_per_message": round(cpu_used * 1000 / total, 2),
        "server_rss_mib_connected": max(rss_connected),
        "server_rss_mib_after": max(rss_after),
        "server_rss_mib_connected_per_process": rss_connected,
        "server_rss_mib_after_per_process": rss_after,
        "_timeline": timeline,
        "_window": window,
    }


def run_side(kind: str, args) -> dict:
    """Start the servers (bare or app), seed and log in if it is the app, and measure them."""
    env = AppEnv(backend=args.backend if kind == "app" else "sqlite", processes=args.processes)
    try:
        if kind == "app":
            emails = seed(env, args.practices, args.sockets_per_practice, args.contacts)
        probes = args.gc_probe and kind == "app"
        with ExitStack() as stack:
            worker = {}
            if args.worker and kind == "app":
                # The worker's texts reach a stand-in Twilio that accepts them, as the real one would.
                worker = {
                    "INBOX_RUN_WORKER": "1",
                    "TWILIO_API_BASE_URL": stack.enter_context(twilio_stand_in(env)),
                }
            servers = stack.enter_context(running(env, kind, gc_probes=probes, **worker))
            args.server_pids = [server.pid for server in servers]
            started = time.perf_counter()
            if kind == "app":
                specs = logins(env, emails, args.sockets_per_practice)
                print(f"  {len(specs)} logins in {time.perf_counter() - started:.1f}s", flush=True)
            else:
                specs = bare_specs(args.practices, args.sockets_per_practice)
            rss_idle = rss_each(args.server_pids)
            # py-spy (pip install py-spy) samples the (first) server for the whole measured run.
            profile = RESULTS / "push_latency_app.folded" if args.profile and kind == "app" else None
            with sampled(servers[0].pid, profile):
                result = asyncio.run(drive(kind, env, specs, args))
            result["server_rss_mib_before_sockets"] = max(rss_idle)
            result["server_rss_mib_before_sockets_per_process"] = rss_idle
            window = result.pop("_window")
            if probes:
                result["gc"] = gc_pauses(sorted(env.dir.glob("gc-*.txt")), window)
            return result
    finally:
        env.cleanup()


def gc_pauses(paths: list[Path], window: list[float]) -> dict:
    """The collections the probes saw (every process's) while the texts were sent and heard: how many
    full (gen-2) ones, the longest pause, those over 20 ms, and each full one (seconds into the run,
    ms); and the whole life's count and longest beside them (start-up, the logins)."""
    rows = [line.split() for path in paths for line in path.read_text().splitlines()]
    pauses = [(float(t), int(gen), float(ms)) for t, gen, ms, _n in rows]
    start, end = window
    measured = [(t - start, gen, ms) for t, gen, ms in pauses if start <= t <= end]
    return {
        "full_collections": sum(gen == 2 for _t, gen, _ms in measured),
        "longest_ms": max((ms for _t, _gen, ms in measured), default=0.0),
        "over_20ms": sum(ms > 20 for _t, _gen, ms in measured),
        "full": [[round(t, 1), ms] for t, gen, ms in measured if gen == 2],
        "whole_life": {
            "full_collections": sum(gen == 2 for _t, gen, _ms in pauses),
            "longest_ms": max((ms for _t, _gen, ms in pauses), default=0.0),
        },
    }


def plot(results: dict, path) -> None:
    """Latency over time and its distribution, app beside bare."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for kind, colour in (("bare", "tab:grey"), ("app", "tab:blue")):
        timeline = results[kind]["_timeline"]
        if not timeline:
            continue
        left.scatter(
            [t for t, _ in timeline], [ms for _, ms in timeline], s=2, alpha=0.3, c=colour, label=kind
        )
        ordered = sorted(ms for _, ms in timeline)
        right.plot(ordered, [i / len(ordered) for i in range(len(ordered))], c=colour, label=kind)
    left.set(xlabel="time (s)", ylabel="webhook → socket (ms)", yscale="log", title="each delivery")
    right.set(xlabel="webhook → socket (ms)", ylabel="fraction of deliveries", xscale="log", title="CDF")
    right.axvline(25, ls="--", c="tab:red", lw=1, label="target p99 25 ms")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    cfg = results["config"]
    fig.suptitle(
        f"push latency at {cfg['rate']} msg/s, {cfg['practices'] * cfg['sockets_per_practice']} sockets "
        f"over {cfg['practices']} practices"
        + (f", {cfg['new_share']:.0%} from new numbers" if cfg.get("new_share") else "")
        + (f", {cfg['processes']} processes" if cfg.get("processes", 1) > 1 else "")
        + (f", {cfg['backend']}" if cfg.get("backend", "sqlite") != "sqlite" else "")
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    """Bare stack first, then the app, with the same load; prints and saves the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--practices", type=int, default=10)
    parser.add_argument("--sockets-per-practice", type=int, default=10)
    parser.add_argument("--contacts", type=int, default=20, help="seeded contacts per practice")
    parser.add_argument("--rate", type=float, default=100.0, help="texts per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to wait for late deliveries")
    parser.add_argument("--rounds", type=int, default=2, help="bare/app pairs, order alternating")
    parser.add_argument("--profile", action="store_true", help="py-spy the app server (folded stacks)")
    parser.add_argument("--new-share", type=float, default=0.0, help="share of texts from new numbers")
    parser.add_argument("--lanes", type=int, default=0, help="closed loop: N connections, each waits")
    parser.add_argument("--worker", action="store_true", help="the app (first process) runs its worker")
    parser.add_argument("--gc-probe", action="store_true", help="time the app's collections")
    parser.add_argument("--save-as", default="push_latency", help="results/plot name")
    add_deployment_options(parser)
    args = parser.parse_args()
    check_deployment(parser, args)

    results = {"machine": machine(), "config": {k: v for k, v in vars(args).items()}, "rounds": []}
    for n in range(args.rounds):
        # Alternate the order (bare first, then app first): a noisy neighbour then hurts both alike.
        order = ("bare", "app") if n % 2 == 0 else ("app", "bare")
        round_result = {}
        for kind in order:
            print(f"round {n + 1} {kind}:", flush=True)
            round_result[kind] = r = run_side(kind, args)
            print(f"  push ms {r['push_ms']}\n  http ms {r['http_ms']}", flush=True)
            print(
                f"  cpu ms/message {r['server_cpu_ms_per_message']} missing {r['missing_deliveries']} "
                f"errors {r['errors']} late sends {r['late_sends']} gc {r.get('gc')}",
                flush=True,
            )
        app, bare = round_result["app"]["push_ms"], round_result["bare"]["push_ms"]
        if app and bare:
            round_result["ratio_app_over_bare"] = {
                k: round(app[k] / bare[k], 2) for k in ("p50", "p95", "p99")
            }
            round_result["cpu_ratio_app_over_bare"] = round(
                round_result["app"]["server_cpu_ms_per_message"]
                / round_result["bare"]["server_cpu_ms_per_message"],
                2,
            )
            print(
                "ratio app/bare:",
                round_result["ratio_app_over_bare"],
                "cpu",
                round_result["cpu_ratio_app_over_bare"],
            )
        results["rounds"].append(round_result)
    # The plot and the top-level figures are the round with the app's best p99 (least disturbed).
    best = min(results["rounds"], key=lambda r: (r["app"]["push_ms"] or {}).get("p99", float("inf")))
    results["bare"], results["app"] = best["bare"], best["app"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(results, RESULTS / f"{args.save_as}.png")
    for round_result in results["rounds"]:
        for kind in ("bare", "app"):
            round_result[kind].pop("_timeline", None)
    print("saved", save(args.save_as, results), RESULTS / f"{args.save_as}.png")


if __name__ == "__main__":
    main()
