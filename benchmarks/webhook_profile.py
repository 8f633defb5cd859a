"""The hub's WSGI application with the webhook requests profiled (benchmarks/webhooks.py --profile).

    HUB_BENCH_PROFILE=/some/folder .venv/bin/gunicorn benchmarks.webhook_profile:application

Each worker process profiles, with cProfile on its CPU clock, every request to the
hub's webhook endpoint and, separately, every request to the INSERT ceiling view,
from the WSGI call to the response's close (Django's request_finished work
included), and saves the profiles to HUB_BENCH_PROFILE/<name>-<pid>.prof every
SAVE_EVERY requests and when it exits; the benchmark merges them. CPU time, not
the wall clock: on two shared cores the wall clock mostly measures the wait for a
core. Gunicorn's own HTTP parsing is outside it (the same for every view).
"""

from __future__ import annotations

import atexit
import cProfile
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from config.wsgi import application as hub_application

# Path prefix → the name of its profile files.
PROFILED = {"/api/webhooks/": "hub", "/_bench/ceiling/insert": "ceiling"}
SAVE_EVERY = 500

_folder = Path(os.environ["HUB_BENCH_PROFILE"])
_profilers = {name: cProfile.Profile(time.process_time) for name in PROFILED.values()}
_profiled = 0


def _save() -> None:
    for name, profiler in _profilers.items():
        profiler.dump_stats(_folder / f"{name}-{os.getpid()}.prof")


atexit.register(_save)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    global _profiled
    path = environ.get("PATH_INFO", "")
    name = next((name for prefix, name in PROFILED.items() if path.startswith(prefix)), None)
    if name is None:
        return hub_application(environ, start_response)
    profiler = _profilers[name]
    profiler.enable()
    try:
        response = hub_application(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()  # Django's request_finished: connections and caches are released here
    finally:
        profiler.disable()
    _profiled += 1
    if _profiled % SAVE_EVERY == 0:
        _save()
    return [body]
