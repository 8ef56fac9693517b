"""The server entry point: `python wsgi.py`. The only file that knows which async library runs.

INBOX_ASYNC=eventlet (default) or gevent picks the hub; it is patched before anything else is imported,
so that sockets, threads and the database drivers all cooperate with it.
"""

import gc
import os

ASYNC = os.environ.get("INBOX_ASYNC", "eventlet")
if ASYNC == "eventlet":
    import eventlet

    eventlet.monkey_patch()
    # psycopg 3 waits in C by default, which would block every greenlet while a query runs.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
elif ASYNC == "gevent":
    from gevent import monkey

    monkey.patch_all()
else:
    raise SystemExit("INBOX_ASYNC must be eventlet or gevent")

os.environ["SOCKETIO_ASYNC_MODE"] = ASYNC
MAX_CONNECTIONS = 10_000  # sockets and requests at once per process; the open-files limit must allow it
# A full collection walks every tracked object, and stops every socket while it does: 230-270 ms every
# ~12 s under issue 17's mixed burst, about half of it spent on start-up's ~150,000 objects, which never die.
# Those are frozen once the app is built (gc.freeze: no collection walks them again), and a full
# collection waits for 100 middle-generation ones instead of 10, so at that load it comes every few
# minutes instead of every few seconds (docs/benchmarks.md, "GC"). Cyclic garbage lives that much longer.
GC_THRESHOLDS = (700, 10, 100)  # CPython's defaults but the last (10)

from inbox import create_app  # noqa: E402 - must come after monkey-patching
from inbox.config import listen_address  # noqa: E402
from inbox.extensions import socketio  # noqa: E402

app = create_app()

if __name__ == "__main__":
    if app.config["INBOX_RUN_WORKER"]:
        from inbox.worker import start_in_process

        start_in_process(app)
    from inbox.realtime import sweep_ended_sessions

    socketio.start_background_task(sweep_ended_sessions, app)
    host, port = listen_address(os.environ)
    print(f"Intake Inbox on {app.config['INBOX_PUBLIC_URL']} (listening on {host}:{port})", flush=True)
    # eventlet's WSGI server serves at most 1,024 connections at once unless told otherwise, and every
    # staff socket holds one for its whole life (docs/benchmarks.md); gevent's has no such ceiling.
    options = {"max_size": MAX_CONNECTIONS} if ASYNC == "eventlet" else {}
    # The crisis detector's learned weights (35,900 features, ~36,000 lists) load here, not on the first
    # webhook, so they are frozen with the rest and no full collection walks them.
    from inbox.texting.risk_model import model

    model()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    socketio.run(app, host=host, port=port, log_output=False, **options)
