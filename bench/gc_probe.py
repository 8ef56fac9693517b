"""Run a server script with a probe on Python's garbage collector: every collection's pause, in ms.

    python bench/gc_probe.py wsgi.py        (INBOX_GC_PROBE_OUT names the output file)

Appends one line per collection of generation 2, or of any generation that took over 2 ms:
`<wall-clock time (epoch s)> <generation> <pause ms> <objects collected>`, so that a bench can keep
the collections of its measured window apart from start-up's and the logins'. The server script runs as
__main__, so wsgi.py still monkey-patches before anything else it imports.
"""

import gc
import os
import runpy
import sys
import time

OUT = open(os.environ.get("INBOX_GC_PROBE_OUT", "gc_probe.txt"), "a", buffering=1)  # noqa: SIM115
_began = [0.0]


def probe(phase: str, info: dict) -> None:
    """gc.callbacks hook: time each collection from its start to its stop."""
    now = time.perf_counter()
    if phase == "start":
        _began[0] = now
        return
    pause = (now - _began[0]) * 1000
    if info["generation"] == 2 or pause > 2.0:
        OUT.write(f"{time.time():.3f} {info['generation']} {pause:.2f} {info['collected']}\n")


gc.callbacks.append(probe)
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
runpy.run_path(script, run_name="__main__")
