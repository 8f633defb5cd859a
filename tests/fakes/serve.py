"""Run a fake upstream in its own process, for benchmarks.

    python -m tests.fakes.serve tests.fakes.records:create_app --port 0 \
        --options '{"count": 50000}' --faults '{"rate": 0.2, "seed": 1}'

Prints the server's URL on the first line of stdout, then serves until SIGTERM,
SIGINT or the end of stdin (so it dies with a parent that was killed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from tests.fakes.app import FakeApp
from tests.fakes.server import FakeServer


def load_factory(path: str) -> Callable[..., FakeApp]:
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise SystemExit(f"expected package.module:function, not {path!r}")
    return getattr(importlib.import_module(module_name), attribute)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("factory", help="package.module:function returning a FakeApp")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--options", default="{}", help="JSON keyword arguments for the factory")
    parser.add_argument("--faults", default="", help="JSON keyword arguments for faults.set()")
    return parser.parse_args(argv)


def _stop_on_end_of_input(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    options: dict[str, Any] = json.loads(arguments.options)
    app = load_factory(arguments.factory)(**options)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    threading.Thread(target=_stop_on_end_of_input, args=(stop,), daemon=True).start()
    with FakeServer(app, port=arguments.port) as server:
        if arguments.faults:
            server.faults.set(**json.loads(arguments.faults))
        print(server.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
