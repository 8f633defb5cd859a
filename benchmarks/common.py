"""What the sync benchmarks (github_sync, jira_sync, slack_sync) share.

    from benchmarks.common import Fake, Phase, database_parser, run_each_database, ...

- `database_parser` and `run_each_database`: `--database sqlite|postgres|both` and
  `--postgres-url`, "both" running each database in a child process of its own;
- `Fake`: the upstream's fake in its own process (tests/fakes/serve.py), so its work
  is not timed as the hub's, with its request log counted by kind;
- `Phase` and `run_phase`: one timed pass of SyncRuns (wall and this process's CPU,
  optionally profiled), stopped by any run that failed or miscounted;
- the lines every benchmark prints the same way (`machine_load`, `raw_keeping`,
  `verdict`, `print_profile`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

# --- the command line ----------------------------------------------------------------------


def database_parser(description: str, postgres_url: str) -> argparse.ArgumentParser:
    """A parser with `--database` (default both) and `--postgres-url` (default `postgres_url`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=postgres_url)
    return parser


def run_each_database(
    script: str, arguments: argparse.Namespace, run_one: Callable[[argparse.Namespace], None]
) -> None:
    """`run_one(arguments)`, or with `--database both` the script again for SQLite, then
    PostgreSQL: Django is set up once per process, for one database."""
    if arguments.database != "both":
        run_one(arguments)
        return
    for database in ("sqlite", "postgres"):
        command = [sys.executable, script, *sys.argv[1:], "--database", database]
        subprocess.run(command, check=True)


# --- the fake ------------------------------------------------------------------------------


class Fake:
    """A fake upstream in its own process, from `factory` ("package.module:function")
    called with `options`. `request_kind` names the kind of a request by its path
    (None: not counted, e.g. the benchmark's own calls)."""

    def __init__(
        self,
        factory: str,
        options: dict[str, Any],
        request_kind: Callable[[str], str | None],
    ) -> None:
        from tests.fakes.server import SubprocessFakeServer

        # Generous: a large fake generates its data before it prints its URL.
        self.server = SubprocessFakeServer(factory, options=options, startup_timeout=300.0)
        self.request_kind = request_kind
        self.ready_seconds = 0.0  # from start to its URL: the fake's data generation

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Fake:
        started = time.perf_counter()
        self.server.start()
        self.ready_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    def clear(self) -> None:
        self.server.clear_requests()

    def received(self) -> Counter[str]:
        """The requests received since `clear`, by kind."""
        counts: Counter[str] = Counter()
        for path, count in self.server.stats()["by_path"].items():
            kind = self.request_kind(path)
            if kind is not None:
                counts[kind] += count
        return counts

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """A route of the fake's own (not the upstream's): a child process has no other way in."""
        data = None if payload is None else json.dumps(payload).encode()
        # Always http://127.0.0.1:<port>, as the child printed it.
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
            return json.loads(response.read() or b"null")


# --- phases --------------------------------------------------------------------------------


@dataclass
class Phase:
    label: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time: less noisy on a shared machine
    runs: dict[str, list[Any]] = field(default_factory=dict)  # entity → its SyncRuns
    received: Counter[str] = field(default_factory=Counter)  # the fake's requests, by kind

    def total(self, name: str, entity: str | None = None) -> int:
        """SyncRun.<name> summed over `entity`'s runs, or over every run."""
        groups = [self.runs[entity]] if entity else list(self.runs.values())
        return sum(getattr(run, name) for runs in groups for run in runs)

    def rate(self, entity: str | None = None) -> float:
        """Records fetched per second of wall time, end to end."""
        return self.total("fetched", entity) / self.seconds if self.seconds else 0.0

    @property
    def received_total(self) -> int:
        return sum(self.received.values())


PhaseT = TypeVar("PhaseT", bound=Phase)


def run_phase(
    phase: PhaseT,
    fake: Fake,
    sync: Callable[[], dict[str, list[Any]]],
    profiler: cProfile.Profile | None = None,
) -> PhaseT:
    """`sync()` timed into `phase` (under `profiler` when given), with the requests the
    fake received meanwhile. A run that did not succeed, or whose counts disagree,
    stops the benchmark: its figures would mean nothing."""
    fake.clear()
    started, cpu_started = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    phase.runs = sync()
    if profiler is not None:
        profiler.disable()
    phase.seconds = time.perf_counter() - started
    phase.cpu_seconds = time.process_time() - cpu_started
    phase.received = fake.received()
    runs = [run for runs in phase.runs.values() for run in runs]
    failed = [run for run in runs if run.status != "succeeded" or run.counts_mismatch]
    assert not failed, failed
    return phase


# --- printing ------------------------------------------------------------------------------


def machine_load() -> str:
    """How busy the shared machine is: figures taken on a busy one are low."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def raw_keeping() -> str:
    from django.conf import settings

    return "on" if settings.INGEST_KEEP_RAW else "off (INGEST_KEEP_RAW)"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_profile(profiler: cProfile.Profile, orders: Iterable[str], lines: int) -> None:
    """The profile's `lines` first functions by each of `orders` (tottime, cumulative, …)."""
    for order in orders:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order).print_stats(lines)
        print(f"    --- profile of the phase, by {order} ---", flush=True)
        print("\n".join(f"    {line}" for line in buffer.getvalue().splitlines()), flush=True)
