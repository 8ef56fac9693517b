"""Many staff sockets in one asyncio loop (python-socketio's AsyncClient), for the bench scripts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import socketio

from bench.common import AppEnv, login, practice_number


def logins(env: AppEnv, emails: dict[int, list[str]], per_practice: int) -> list[tuple[int, dict]]:
    """(practice index, connect kwargs) for each socket: one real login per app socket, socket i's on
    server i % len(env.urls), the one it will connect to (a balancer's sticky session)."""
    wanted = [(p, e) for p, addresses in emails.items() for e in addresses[:per_practice]]
    servers = [env.urls[i % len(env.urls)] for i in range(len(wanted))]
    with ThreadPoolExecutor(8) as pool:
        cookies = list(pool.map(login, servers, [e for _p, e in wanted]))
    return [(p, {"headers": {"Cookie": c}}) for (p, _e), c in zip(wanted, cookies, strict=True)]


def bare_specs(practices: int, per_practice: int) -> list[tuple[int, dict]]:
    """The bare stack has no login: a socket names its practice's room."""
    return [
        (p, {"auth": {"room": f"practice:{practice_number(p)}"}})
        for p in range(practices)
        for _ in range(per_practice)
    ]


async def connect_all(
    url: str | list[str],
    specs: list[tuple[int, dict]],
    on_event: Callable[[int, str, object], None],
    *,
    parallel: int = 50,
    quiet: bool = False,
) -> list[socketio.AsyncClient]:
    """Connect every socket (at most `parallel` handshakes at a time); `on_event(i, name, data)`. With a list
    of server URLs, socket i goes to url[i % len(url)]: round-robin, as a balancer with sticky sessions."""
    urls = [url] if isinstance(url, str) else url
    gate = asyncio.Semaphore(parallel)
    clients: list[socketio.AsyncClient] = []

    async def one(i: int, kwargs: dict) -> None:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("*")
        async def _any(event, data=None, _i=i):
            on_event(_i, event, data)

        async with gate:
            await client.connect(urls[i % len(urls)], transports=["websocket"], wait_timeout=20, **kwargs)
        clients.append(client)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, kw) for i, (_p, kw) in enumerate(specs)))
    if not quiet:
        print(f"  {len(clients)} sockets connected in {time.perf_counter() - started:.1f}s", flush=True)
    return clients


async def disconnect_all(clients: list[socketio.AsyncClient]) -> None:
    """Close every socket."""
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


def popup(name: str, data) -> dict | None:
    """The popup an event carries: the bare stack's `notify`, or the app's journey.updated with `notify`
    (before issue 17 the app had its own `notify` event too)."""
    if name == "journey.updated":
        return (data or {}).get("notify")
    return data if name == "notify" else None
