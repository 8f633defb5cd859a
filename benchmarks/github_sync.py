"""Sync a fake GitHub of 100 repositories through the real GitHub source and print figures.

    .venv/bin/python benchmarks/github_sync.py                      # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/github_sync.py --database sqlite --repositories 5
    .venv/bin/python benchmarks/github_sync.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/hub_ghbench --profile

The fake GitHub (tests/fakes/github) runs in its own process on 127.0.0.1
(`SubprocessFakeServer`), built by `create_fake_app` below: the fake's own
factory plus everything generated up front (so the fake's data generation is
not timed) and one benchmark-only route, `POST /_bench/github/change`, that
changes a fraction of the data between syncs (the child process has no other
way in). The hub syncs in this process, sequentially, the way a source sync
does: `github/repositories`, then for each repository `github/commits`,
`github/issues` and `github/pull_requests`, each through `run_sync`.

Phases, each on the same database and the same fake:
1. full sync (`full=True`) of an empty database;
2. the first incremental after it (commits and issues ask with `since`, a URL
   the full run never asked, so one counted request each per repository);
3. a second incremental with no change (steady state: every list answers 304);
4. an incremental after ~1 % of the data changed (new commits, edited issues
   and pull requests).
Each phase prints wall time, records/s, created/updated/unchanged, requests as
the hub counted them (SyncRun.requests) and as the fake received them, 304s,
and the primary budget spent (the fake's counted requests for the token, and
X-RateLimit-Remaining before/after as the GitHubCredential row holds it).
"""

from __future__ import annotations

import argparse
import cProfile
import math
import random
import re
import sys
from collections import Counter
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

TOKEN = "ghp_test"  # noqa: S105 (the fake GitHub's default token)
ORG = "acme"
PER_PAGE = 100
CHANGE_ROUTE = "/_bench/github/change"
STATE_ROUTE = "/_fake/github/state"
STREAMS = ("commits", "issues", "pull_requests")
TARGET_RECORDS_PER_SECOND = 3_000
TARGET_STEADY_SECONDS = 10.0


# --- the fake, in its child process (no Django here) ----------------------------------------
def create_fake_app(**options: Any) -> Any:
    """Factory for `python -m tests.fakes.serve benchmarks.github_sync:create_fake_app`."""
    from tests.fakes.github import FakeGitHub

    fake = FakeGitHub(**options)
    # Generate every repository's commits, issues and pulls now, not on first read:
    # otherwise the full sync's wall time includes the fake's ~5 s of generation.
    for repository in fake.repositories.values():
        fake.commit_graph(repository)
        fake.tracker(repository)

    def change(request: Any) -> dict[str, Any]:
        wanted = request.json() or {}
        return change_fake(fake, float(wanted.get("fraction", 0.01)), int(wanted.get("seed", 1)))

    # Not GitHub: lets the benchmark mutate a fake that lives in another process.
    fake.app.add_route("POST", CHANGE_ROUTE, change, public=True)
    return fake.app


def change_fake(fake: Any, fraction: float, seed: int) -> dict[str, int]:
    """In every repository: `fraction` of the commit count added as new commits, and
    `fraction` of the issues and of the pull requests edited (their title)."""
    chooser = random.Random(seed)
    changed: Counter[str] = Counter()
    with fake.lock:
        for repository in list(fake.repositories.values()):
            name = repository.json["full_name"]
            threads = fake.tracker(repository).threads
            issues = [thread.number for thread in threads if not thread.is_pull]
            pulls = [thread.number for thread in threads if thread.is_pull]
            for _ in range(math.ceil(fake.commits_per_repository * fraction)):
                fake.add_commit(name, message="A change for the benchmark")
                changed["commits"] += 1
            for number in chooser.sample(issues, _share(len(issues), fraction)):
                fake.update_issue(name, number, title=f"Edited issue #{number}")
                changed["issues"] += 1
            for number in chooser.sample(pulls, _share(len(pulls), fraction)):
                fake.update_pull(name, number, title=f"Edited pull request #{number}")
                changed["pull_requests"] += 1
    return dict(changed)


def _share(count: int, fraction: float) -> int:
    """`fraction` of `count`, at least one when there is any (a small run still changes some)."""
    if count == 0 or fraction <= 0:
        return 0
    return min(count, max(1, round(count * fraction)))


# --- the hub's side ---------------------------------------------------------------------------
@dataclass
class Scale:
    repositories: int
    commits: int
    issues: int
    pulls: int

    @property
    def records(self) -> int:
        return self.repositories * (1 + self.commits + self.issues + self.pulls)

    def expected_full_requests(self) -> dict[str, int]:
        """ceil(items/100) per list: the issues endpoint lists issues and pull requests."""
        pages = lambda items: max(1, math.ceil(items / PER_PAGE))  # noqa: E731
        return {
            # /user/repos (everything the user sees) and /orgs/acme/repos
            "repositories": 2 * pages(self.repositories),
            "commits": self.repositories * pages(self.commits),
            "issues": self.repositories * pages(self.issues + self.pulls),
            "pull_requests": self.repositories * pages(self.pulls),
        }


_PATH_KINDS = (
    (re.compile(r"^/(user|orgs/[^/]+)/repos$"), "repositories"),
    (re.compile(r"^/repos/[^/]+/[^/]+/commits$"), "commits"),
    (re.compile(r"^/repos/[^/]+/[^/]+/commits/.+$"), "single commits"),
    (re.compile(r"^/repos/[^/]+/[^/]+/issues$"), "issues"),
    (re.compile(r"^/repos/[^/]+/[^/]+/pulls$"), "pull_requests"),
    (re.compile(r"^/repos/[^/]+/[^/]+/branches$"), "branches"),
    (re.compile(r"^/_(fake|bench)/"), None),  # the benchmark's own calls
)


def request_kind(path: str) -> str | None:
    for pattern, kind in _PATH_KINDS:
        if pattern.match(path):
            return kind
    return "other"


def fake_github(scale: Scale, seed: int) -> Fake:
    options = {
        "repositories": scale.repositories,
        "commits": scale.commits,
        "issues": scale.issues,
        "pulls": scale.pulls,
        "seed": seed,
        "tokens": [TOKEN],
        "orgs": [ORG],
    }
    return Fake("benchmarks.github_sync:create_fake_app", options, request_kind)


def rate_counters(fake: Fake) -> tuple[int, int]:
    """(counted requests, 304s) of the token, as the fake's rate limiter saw them."""
    state = fake.call("GET", STATE_ROUTE)
    return state["counted_requests"].get(TOKEN, 0), state["not_modified"].get(TOKEN, 0)


@dataclass
class PhaseResult(Phase):
    counted: int = 0  # the fake's counted requests (primary budget spent)
    not_modified: int = 0
    remaining_before: int | None = None
    remaining_after: int | None = None


def credential_remaining() -> int | None:
    from sources.github.models import GitHubCredential

    row = GitHubCredential.objects.order_by("pk").first()
    return row.rate_remaining if row else None


def sync_everything(full: bool) -> dict[str, list[Any]]:
    """What a source sync does: repositories, then each repository's three streams."""
    from ingestion.harness import run_sync
    from ingestion.streams import get_stream
    from sources.github.streams import configured_repositories

    runs: dict[str, list[Any]] = {
        "repositories": [run_sync(get_stream("github", "repositories"), full=full)]
    }
    streams = {entity: get_stream("github", entity) for entity in STREAMS}
    for name in configured_repositories():
        for entity, stream in streams.items():
            runs.setdefault(entity, []).append(run_sync(stream, name, full=full))
    return runs


def github_phase(
    label: str, fake: Fake, *, full: bool, profiler: cProfile.Profile | None = None
) -> PhaseResult:
    counted_before, not_modified_before = rate_counters(fake)
    result = run_phase(
        PhaseResult(label, remaining_before=credential_remaining()),
        fake,
        lambda: sync_everything(full),
        profiler,
    )
    counted_after, not_modified_after = rate_counters(fake)
    result.counted = counted_after - counted_before
    result.not_modified = not_modified_after - not_modified_before
    result.remaining_after = credential_remaining()
    print_phase(result)
    return result


def print_phase(result: PhaseResult) -> None:
    print(
        f"  {result.label}: {result.seconds:6.1f} s ({result.cpu_seconds:.1f} s CPU in the hub), "
        f"{result.total('fetched'):,} records fetched ({result.rate():,.0f} /s), "
        f"created {result.total('created'):,}, "
        f"updated {result.total('updated'):,}, unchanged {result.total('unchanged'):,}, "
        f"rejected {result.total('rejected'):,}",
        flush=True,
    )
    hub_requests = result.total("requests")
    print(
        f"    requests: {hub_requests:,} counted by the hub, {result.received_total:,} received "
        f"by the fake, {result.not_modified:,} answered 304; primary budget spent "
        f"{result.counted:,} (X-RateLimit-Remaining {result.remaining_before} -> "
        f"{result.remaining_after})",
        flush=True,
    )
    print(
        f"    {'stream':<15}{'runs':>6}{'fetched':>10}{'created':>9}{'updated':>9}"
        f"{'unchanged':>11}{'hub req':>9}{'fake req':>10}",
        flush=True,
    )
    for stream, runs in result.runs.items():
        print(
            f"    {stream:<15}{len(runs):>6}{result.total('fetched', stream):>10,}"
            f"{result.total('created', stream):>9,}{result.total('updated', stream):>9,}"
            f"{result.total('unchanged', stream):>11,}{result.total('requests', stream):>9,}"
            f"{result.received[stream]:>10,}",
            flush=True,
        )
    others = {k: v for k, v in result.received.items() if k not in result.runs}
    if others:
        print(f"    other requests the fake received: {dict(others)}", flush=True)


def check_targets(scale: Scale, phases: dict[str, PhaseResult]) -> None:
    full, first, steady = phases["full"], phases["first incremental"], phases["unchanged"]
    print("  targets:", flush=True)
    expected = scale.expected_full_requests()
    for stream, limit in expected.items():
        made = full.received[stream]
        print(
            f"    {verdict(made <= limit)} full sync {stream}: {made:,} requests "
            f"(target <= {limit:,}: ceil(items/100) per list)",
            flush=True,
        )
    singles = full.received["single commits"] + full.received["other"]
    print(f"    {verdict(singles == 0)} full sync: {singles} per-item calls (target 0)", flush=True)
    total_limit = sum(expected.values())
    print(
        f"    {verdict(full.received_total <= total_limit)} full sync: "
        f"{full.received_total:,} requests in all (target <= {total_limit:,})",
        flush=True,
    )
    rate = full.rate()
    print(
        f"    {verdict(rate >= TARGET_RECORDS_PER_SECOND)} full sync: {rate:,.0f} records/s "
        f"end to end (target >= {TARGET_RECORDS_PER_SECOND:,})",
        flush=True,
    )
    # At most one request per repository and stream, plus the repository listing.
    per_list = 3 * scale.repositories + expected["repositories"]
    for result in (first, steady):
        print(
            f"    {verdict(result.seconds <= TARGET_STEADY_SECONDS)} {result.label}: "
            f"{result.seconds:.1f} s (target <= {TARGET_STEADY_SECONDS:.0f} s)",
            flush=True,
        )
        print(
            f"    {verdict(result.received_total <= per_list)} {result.label}: "
            f"{result.received_total:,} requests (target <= {per_list:,}: one per repository "
            "and stream, plus the repository listing)",
            flush=True,
        )
    # The first incremental asks commits and issues with `since` for the first time: a
    # URL without a kept ETag, so one counted request per repository for each of the two.
    print(
        f"    {verdict(first.counted == 2 * scale.repositories)} {first.label}: primary budget "
        f"spent {first.counted:,} (expected {2 * scale.repositories:,}: commits and issues "
        "ask with `since` for the first time)",
        flush=True,
    )
    print(
        f"    {verdict(steady.counted == 0)} {steady.label}: primary budget spent "
        f"{steady.counted:,} (target 0)",
        flush=True,
    )


def check_changes(changed: dict[str, int], result: PhaseResult) -> None:
    """The changed phase loads exactly what was changed (the rest reads as unchanged)."""
    commits_created = result.total("created", "commits")
    issues_updated = result.total("updated", "issues")
    pulls_updated = result.total("updated", "pull_requests")
    seen = (
        commits_created == changed.get("commits", 0)
        and issues_updated == changed.get("issues", 0)
        and pulls_updated == changed.get("pull_requests", 0)
    )
    print(
        f"    {verdict(seen)} 1 % changed: every change loaded (new commits "
        f"{commits_created:,}/{changed.get('commits', 0):,}, issues updated {issues_updated:,}/"
        f"{changed.get('issues', 0):,}, pull requests updated {pulls_updated:,}/"
        f"{changed.get('pull_requests', 0):,})",
        flush=True,
    )


def run_one(arguments: argparse.Namespace) -> None:
    scale = Scale(arguments.repositories, arguments.commits, arguments.issues, arguments.pulls)
    with fake_github(scale, arguments.seed) as fake:
        print(
            f"{arguments.database}: fake GitHub at {fake.url} (own process, data generated in "
            f"{fake.ready_seconds:.1f} s): {scale.repositories} repositories x "
            f"{scale.commits:,} commits, {scale.issues} issues, {scale.pulls} pull requests "
            f"= {scale.records:,} records; {machine_load()}",
            flush=True,
        )
        with fresh_django(
            arguments.database,
            arguments.postgres_url,
            GITHUB_API_URL=fake.url,
            GITHUB_TOKEN=TOKEN,
            GITHUB_ORGS=ORG,
            GITHUB_REPOS="",
            GITHUB_RETRY_BACKOFF="0.05",
        ):
            print(f"  raw keeping {raw_keeping()}; GitHub pages of {PER_PAGE}", flush=True)
            profiler = cProfile.Profile() if arguments.profile or arguments.profile_file else None
            phases = {"full": github_phase("full sync", fake, full=True, profiler=profiler)}
            if profiler is not None:
                print_profile(profiler, ("tottime", "cumulative"), lines=30)
                if arguments.profile_file:
                    profiler.dump_stats(arguments.profile_file)
            phases["first incremental"] = github_phase("first incremental", fake, full=False)
            phases["unchanged"] = github_phase("unchanged incremental", fake, full=False)
            wanted = {"fraction": arguments.changed, "seed": arguments.seed}
            changed = fake.call("POST", CHANGE_ROUTE, wanted)
            print(f"  changed in the fake: {changed}", flush=True)
            percent = f"{arguments.changed:.0%}"
            phases["changed"] = github_phase(f"{percent} changed", fake, full=False)
            check_targets(scale, phases)
            check_changes(changed, phases["changed"])


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = database_parser(
        __doc__.split("\n")[0], "postgres://postgres@127.0.0.1:5432/hub_ghbench"
    )
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--commits", type=int, default=1_000, help="per repository")
    parser.add_argument("--issues", type=int, default=200, help="per repository")
    parser.add_argument("--pulls", type=int, default=100, help="per repository")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction changed in phase 4")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the full sync")
    parser.add_argument("--profile-file", default="", help="also save the profile (pstats) here")
    return parser.parse_args(argv)


def main() -> None:
    run_each_database(__file__, parse_arguments(), run_one)


if __name__ == "__main__":
    main()
