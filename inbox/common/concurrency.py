"""Run CPU-heavy work off the event loop, whichever async library wsgi.py picked.

Password hashing and image decoding hold the CPU for 50-300 ms; inline on an eventlet or gevent
hub that would stall every socket. A real OS thread runs it instead (the C code releases the GIL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from inbox.extensions import socketio

T = TypeVar("T")


def run_cpu(func: Callable[..., T], *args: Any) -> T:
    """Call func(*args) in a real thread pool when running on a green hub, else directly."""
    mode = getattr(socketio, "async_mode", None)
    if mode == "eventlet":
        from eventlet import tpool

        return tpool.execute(func, *args)
    if mode == "gevent":
        import gevent

        return gevent.get_hub().threadpool.apply(func, args)
    return func(*args)
