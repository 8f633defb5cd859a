"""The hub's WSGI application with the webhook requests profiled (benchmarks/webhooks.py --profile).

    HUB_BENCH_PROFILE=/some/folder .venv/bin/gunicorn benchmarks.webhook_profile:application

Each worker process profiles every request under /api/webhooks/ with cProfile, from
the WSGI call to the response's close (Django's request_finished work included),
and saves its profile to HUB_BENCH_PROFILE/worker-<pid>.prof every SAVE_EVERY
requests and when it exits; the benchmark merges them. Gunicorn's own HTTP parsing
is outside it (the same for every view).
"""

from __future__ import annotations

import atexit
import cProfile
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from config.wsgi import application as hub_application

PROFILED_PREFIX = "/api/webhooks/"
SAVE_EVERY = 500

_folder = Path(os.environ["HUB_BENCH_PROFILE"])
_profiler = cProfile.Profile()
_profiled = 0


def _save() -> None:
    _profiler.dump_stats(_folder / f"worker-{os.getpid()}.prof")


atexit.register(_save)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    global _profiled
    if not environ.get("PATH_INFO", "").startswith(PROFILED_PREFIX):
        return hub_application(environ, start_response)
    _profiler.enable()
    try:
        response = hub_application(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()  # Django's request_finished: connections and caches are released here
    finally:
        _profiler.disable()
    _profiled += 1
    if _profiled % SAVE_EVERY == 0:
        _save()
    return [body]
