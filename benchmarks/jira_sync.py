"""Sync a fake Jira of 20,000 issues through the real Jira source and print figures.

    .venv/bin/python benchmarks/jira_sync.py                       # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/jira_sync.py --database sqlite --deployment data_center
    .venv/bin/python benchmarks/jira_sync.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/hub_jirabench --profile

The fake Jira (tests/fakes/jira) runs in its own process on 127.0.0.1
(`SubprocessFakeServer`), built by `create_fake_app` below: the fake's own
factory with every issue rendered up front (so the fake's rendering is not
timed) and one benchmark-only route, `POST /_bench/jira/change`, that edits a
fraction of the issues between syncs (a fake in a child process has no other
way in). The hub syncs in this process, in sequence, as a source sync's jobs
would: `jira/sprints` for each board, then `jira/issues` for each project, each
through `run_sync`, with JIRA_PAGE_SIZE=100.

Phases, on the same database and the same fake:
1. full sync (`full=True`) of an empty database (the site's facts are read once, first);
2. an unchanged incremental sync;
3. an incremental sync after 1 % of the issues changed.
Each prints wall time, issues/s, created/updated/unchanged, and requests as the hub
counted them (SyncRun.requests) and as the fake received them, by endpoint.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EMAIL = "hub@example.com"
API_TOKEN = "jira-api-token"  # noqa: S105 (the fake Jira's default credential)
PAT = "jira-pat"
PAGE_SIZE = 100
CHANGE_ROUTE = "/_bench/jira/change"
TARGET_ISSUES_PER_SECOND = 3_000


# --- the fake, in its child process (no Django here) ----------------------------------------
def create_fake_app(**options: Any) -> Any:
    """Factory for `python -m tests.fakes.serve benchmarks.jira_sync:create_fake_app`."""
    from tests.fakes.jira import FakeJira

    fake = FakeJira(**options)
    for issue in fake.issues.values():
        fake.render_issue(issue, None)  # rendered now, not on first read

    def change(request: Any) -> dict[str, int]:
        wanted = request.json() or {}
        return change_fake(fake, float(wanted.get("fraction", 0.01)), int(wanted.get("seed", 1)))

    # Not Jira: lets the benchmark change a fake that lives in another process.
    fake.app.add_route("POST", CHANGE_ROUTE, change, public=True)
    return fake.app


def change_fake(fake: Any, fraction: float, seed: int) -> dict[str, int]:
    """`fraction` of each project's issues edited (title and priority), a second apart."""
    chooser = random.Random(seed)
    changed = 0
    with fake.lock:
        for project in fake.projects:
            issues = [issue.key for issue in fake.project_issues(project)]
            for key in chooser.sample(issues, max(1, round(len(issues) * fraction))):
                fake.update_issue(key, seconds=1, summary=f"Edited {key}", priority="High")
                changed += 1
    return {"issues": changed}


# --- the hub's side ---------------------------------------------------------------------------
@dataclass
class Scale:
    projects: int
    issues: int  # per project
    sprints: int  # per board

    @property
    def total_issues(self) -> int:
        return self.projects * self.issues


def request_kind(path: str) -> str | None:
    if path.startswith("/_bench/"):
        return None  # the benchmark's own calls
    if "/search" in path:
        return "search"
    if path.startswith("/rest/agile/1.0/board/"):
        return "board sprints"
    return path.rsplit("/", 1)[-1]  # serverInfo, myself, field


class Upstream:
    """The fake in its child process: its request log and its change route."""

    def __init__(self, scale: Scale, deployment: str, seed: int) -> None:
        from tests.fakes.server import SubprocessFakeServer

        options = {
            "deployment": deployment,
            "projects": scale.projects,
            "issues_per_project": scale.issues,
            "sprints_per_board": scale.sprints,
            "kanban_board": False,
            "seed": seed,
            "time_zone": "America/Los_Angeles",
        }
        self.server = SubprocessFakeServer(
            "benchmarks.jira_sync:create_fake_app", options=options, startup_timeout=300.0
        )

    def start(self) -> str:
        return self.server.start().url

    def stop(self) -> None:
        self.server.stop()

    def received(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path, count in self.server.stats()["by_path"].items():
            kind = request_kind(path)
            if kind is not None:
                counts[kind] += count
        return counts

    def clear(self) -> None:
        self.server.clear_requests()

    def change(self, fraction: float, seed: int) -> dict[str, int]:
        data = json.dumps({"fraction": fraction, "seed": seed}).encode()
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1:<port>, the child's)
            f"{self.server.url}{CHANGE_ROUTE}", data=data, method="POST"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read())


@dataclass
class PhaseResult:
    label: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    runs: dict[str, list[Any]] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)

    def total(self, name: str, entity: str | None = None) -> int:
        groups = [self.runs[entity]] if entity else list(self.runs.values())
        return sum(getattr(run, name) for runs in groups for run in runs)

    @property
    def issues_per_second(self) -> float:
        return self.total("fetched", "issues") / self.seconds if self.seconds else 0.0


def sync_everything(full: bool) -> dict[str, list[Any]]:
    """What a Jira source sync's jobs do, in sequence: each board's sprints, each
    project's issues."""
    from ingestion.harness import run_sync
    from ingestion.streams import get_stream
    from sources.jira.streams import configured_boards, configured_projects

    sprints, issues = get_stream("jira", "sprints"), get_stream("jira", "issues")
    runs: dict[str, list[Any]] = {"sprints": [], "issues": []}
    for board in configured_boards():
        runs["sprints"].append(run_sync(sprints, board, full=full))
    for project in configured_projects():
        runs["issues"].append(run_sync(issues, project, full=full))
    return runs


def run_phase(label: str, upstream: Upstream, *, full: bool, profile: bool = False) -> PhaseResult:
    upstream.clear()
    result = PhaseResult(label)
    profiler = cProfile.Profile() if profile else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    result.runs = sync_everything(full)
    if profiler is not None:
        profiler.disable()
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    result.received = upstream.received()
    failed = [run for runs in result.runs.values() for run in runs if run.status != "succeeded"]
    mismatched = [run for runs in result.runs.values() for run in runs if run.counts_mismatch]
    assert not failed and not mismatched, (failed, mismatched)
    print_phase(result)
    if profiler is not None:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(
            os.environ.get("BENCH_SORT", "tottime")
        ).print_stats(int(os.environ.get("BENCH_LINES", "25")))
        print("\n".join(f"    {line}" for line in buffer.getvalue().splitlines()), flush=True)
    return result


def print_phase(result: PhaseResult) -> None:
    print(
        f"  {result.label}: {result.seconds:6.1f} s ({result.cpu_seconds:.1f} s CPU in the hub), "
        f"{result.total('fetched', 'issues'):,} issues fetched "
        f"({result.issues_per_second:,.0f} issues/s end to end), "
        f"{result.total('fetched', 'sprints'):,} sprints",
        flush=True,
    )
    for entity in ("sprints", "issues"):
        print(
            f"    {entity:<8} runs {len(result.runs[entity]):>3}  created "
            f"{result.total('created', entity):>7,}  updated {result.total('updated', entity):>6,}"
            f"  unchanged {result.total('unchanged', entity):>7,}  rejected "
            f"{result.total('rejected', entity):>3,}  requests (hub) "
            f"{result.total('requests', entity):>5,}",
            flush=True,
        )
    received = ", ".join(f"{kind} {count:,}" for kind, count in sorted(result.received.items()))
    print(
        f"    requests received by the fake: {sum(result.received.values()):,} ({received})",
        flush=True,
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def check_targets(scale: Scale, phases: dict[str, PhaseResult], changed: int) -> None:
    full, steady, edited = phases["full"], phases["unchanged"], phases["changed"]
    pages = scale.projects * -(-scale.issues // PAGE_SIZE)
    print("  targets:", flush=True)
    print(
        f"    {verdict(full.issues_per_second >= TARGET_ISSUES_PER_SECOND)} full sync: "
        f"{full.issues_per_second:,.0f} issues/s end to end (target >= "
        f"{TARGET_ISSUES_PER_SECOND:,})",
        flush=True,
    )
    print(
        f"    {verdict(full.received['search'] <= pages)} full sync: "
        f"{full.received['search']:,} searches for {scale.total_issues:,} issues "
        f"({PAGE_SIZE} issues per request: {pages:,})",
        flush=True,
    )
    searches = steady.received["search"]
    print(
        f"    {verdict(searches <= scale.projects)} unchanged incremental: {searches} "
        f"searches for {scale.projects} projects (target <= one per project), "
        f"{sum(steady.received.values())} requests in all",
        flush=True,
    )
    print(
        f"    {verdict(edited.total('updated', 'issues') == changed)} 1 % changed: "
        f"{edited.total('updated', 'issues'):,} of {changed:,} edited issues updated",
        flush=True,
    )


def run_one(arguments: argparse.Namespace) -> None:
    from benchmarks.django_setup import prepare_database, setup_django

    scale = Scale(arguments.projects, arguments.issues, arguments.sprints)
    upstream = Upstream(scale, arguments.deployment, arguments.seed)
    started = time.perf_counter()
    url = upstream.start()
    print(
        f"{arguments.database}: fake Jira ({arguments.deployment}) at {url}, own process, "
        f"ready in {time.perf_counter() - started:.1f} s: {scale.projects} projects x "
        f"{scale.issues:,} issues = {scale.total_issues:,}, {scale.projects * scale.sprints} "
        f"sprints; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    credentials = (
        {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": API_TOKEN, "JIRA_PAT": ""}
        if arguments.deployment == "cloud"
        else {"JIRA_EMAIL": "", "JIRA_API_TOKEN": "", "JIRA_PAT": PAT}
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            prepare_database(arguments.database, arguments.postgres_url, folder)
            setup_django(
                JIRA_BASE_URL=url,
                JIRA_PROJECTS="",
                JIRA_BOARDS="",
                JIRA_PAGE_SIZE=str(PAGE_SIZE),
                **credentials,
            )
            from django.conf import settings

            raw = "on" if settings.INGEST_KEEP_RAW else "off (INGEST_KEEP_RAW)"
            print(f"  raw keeping {raw}; {PAGE_SIZE} issues per search", flush=True)
            phases = {
                "full": run_phase("full sync", upstream, full=True, profile=arguments.profile)
            }
            phases["unchanged"] = run_phase("unchanged incremental", upstream, full=False)
            changed = upstream.change(arguments.changed, arguments.seed)["issues"]
            print(f"  changed in the fake: {changed:,} issues", flush=True)
            phases["changed"] = run_phase(f"{arguments.changed:.0%} changed", upstream, full=False)
            check_targets(scale, phases, changed)
    finally:
        upstream.stop()


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--postgres-url", default="postgres://postgres@127.0.0.1:5432/hub_jirabench"
    )
    parser.add_argument("--deployment", choices=["cloud", "data_center"], default="cloud")
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--issues", type=int, default=4_000, help="per project")
    parser.add_argument("--sprints", type=int, default=40, help="per board (one board a project)")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction changed in phase 3")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the full sync")
    return parser.parse_args(argv)


def main() -> None:
    arguments = parse_arguments()
    sys.path.insert(0, str(ROOT))
    if arguments.database != "both":
        run_one(arguments)
        return
    # Django is set up once per process, for one database: one child per database.
    for database in ("sqlite", "postgres"):
        command = [sys.executable, __file__, *sys.argv[1:], "--database", database]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
