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
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository

from benchmarks.common import (
    Fake,
    Phase,
    database_parser,
    machine_load,
    print_profile,
    raw_keeping,
    run_each_database,
    run_phase,
    verdict,
)
from benchmarks.django_setup import fresh_django

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


def fake_jira(scale: Scale, deployment: str, seed: int) -> Fake:
    options = {
        "deployment": deployment,
        "projects": scale.projects,
        "issues_per_project": scale.issues,
        "sprints_per_board": scale.sprints,
        "kanban_board": False,
        "seed": seed,
        "time_zone": "America/Los_Angeles",
    }
    return Fake("benchmarks.jira_sync:create_fake_app", options, request_kind)


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


def jira_phase(
    label: str, fake: Fake, *, full: bool, profiler: cProfile.Profile | None = None
) -> Phase:
    result = run_phase(Phase(label), fake, lambda: sync_everything(full), profiler)
    print_phase(result)
    return result


def print_phase(result: Phase) -> None:
    print(
        f"  {result.label}: {result.seconds:6.1f} s ({result.cpu_seconds:.1f} s CPU in the hub), "
        f"{result.total('fetched', 'issues'):,} issues fetched "
        f"({result.rate('issues'):,.0f} issues/s end to end), "
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
        f"    requests received by the fake: {result.received_total:,} ({received})",
        flush=True,
    )


def check_targets(scale: Scale, phases: dict[str, Phase], changed: int) -> None:
    full, steady, edited = phases["full"], phases["unchanged"], phases["changed"]
    pages = scale.projects * -(-scale.issues // PAGE_SIZE)
    print("  targets:", flush=True)
    print(
        f"    {verdict(full.rate('issues') >= TARGET_ISSUES_PER_SECOND)} full sync: "
        f"{full.rate('issues'):,.0f} issues/s end to end (target >= "
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
        f"{steady.received_total} requests in all",
        flush=True,
    )
    print(
        f"    {verdict(edited.total('updated', 'issues') == changed)} 1 % changed: "
        f"{edited.total('updated', 'issues'):,} of {changed:,} edited issues updated",
        flush=True,
    )


def run_one(arguments: argparse.Namespace) -> None:
    scale = Scale(arguments.projects, arguments.issues, arguments.sprints)
    credentials = (
        {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": API_TOKEN, "JIRA_PAT": ""}
        if arguments.deployment == "cloud"
        else {"JIRA_EMAIL": "", "JIRA_API_TOKEN": "", "JIRA_PAT": PAT}
    )
    with fake_jira(scale, arguments.deployment, arguments.seed) as fake:
        print(
            f"{arguments.database}: fake Jira ({arguments.deployment}) at {fake.url}, own "
            f"process, ready in {fake.ready_seconds:.1f} s: {scale.projects} projects x "
            f"{scale.issues:,} issues = {scale.total_issues:,}, {scale.projects * scale.sprints} "
            f"sprints; {machine_load()}",
            flush=True,
        )
        with fresh_django(
            arguments.database,
            arguments.postgres_url,
            JIRA_BASE_URL=fake.url,
            JIRA_PROJECTS="",
            JIRA_BOARDS="",
            JIRA_PAGE_SIZE=str(PAGE_SIZE),
            **credentials,
        ):
            print(f"  raw keeping {raw_keeping()}; {PAGE_SIZE} issues per search", flush=True)
            profiler = cProfile.Profile() if arguments.profile else None
            phases = {"full": jira_phase("full sync", fake, full=True, profiler=profiler)}
            if profiler is not None:
                order = os.environ.get("BENCH_SORT", "tottime")
                print_profile(profiler, (order,), lines=int(os.environ.get("BENCH_LINES", "25")))
            phases["unchanged"] = jira_phase("unchanged incremental", fake, full=False)
            wanted = {"fraction": arguments.changed, "seed": arguments.seed}
            changed = fake.call("POST", CHANGE_ROUTE, wanted)["issues"]
            print(f"  changed in the fake: {changed:,} issues", flush=True)
            phases["changed"] = jira_phase(f"{arguments.changed:.0%} changed", fake, full=False)
            check_targets(scale, phases, changed)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = database_parser(
        __doc__.split("\n")[0], "postgres://postgres@127.0.0.1:5432/hub_jirabench"
    )
    parser.add_argument("--deployment", choices=["cloud", "data_center"], default="cloud")
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--issues", type=int, default=4_000, help="per project")
    parser.add_argument("--sprints", type=int, default=40, help="per board (one board a project)")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction changed in phase 3")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the full sync (order and length: BENCH_SORT, default tottime, and "
        "BENCH_LINES, default 25, in the environment)",
    )
    return parser.parse_args(argv)


def main() -> None:
    run_each_database(__file__, parse_arguments(), run_one)


if __name__ == "__main__":
    main()
