"""Sync a fake Slack of 20 channels x 5,000 messages through the real Slack source; print figures.

    .venv/bin/python benchmarks/slack_sync.py                      # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/slack_sync.py --database sqlite --channels 4
    .venv/bin/python benchmarks/slack_sync.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/hub_slackbench --profile

The fake Slack (tests/fakes/slack) runs in its own process on 127.0.0.1
(`SubprocessFakeServer`), its data generated before the clock starts. Every
channel has `--messages` messages, one in `--thread-every` a thread parent with
`--replies` replies (10 % with threads by default). The hub syncs in this
process, sequentially, as a source sync does: `slack/channels`, `slack/users`,
then `slack/messages` for each channel, each through `run_sync`, with the pace
off (SLACK_REQUESTS_PER_MINUTE=0, a Marketplace app's setting) and pages of
`--history-limit` messages.

Phases, on the same database and the same fake:
1. full sync of the messages (`full=True`) into an empty database: the timed one;
2. an incremental sync with nothing new: one history request per channel.
Each prints wall time, messages/s, created/unchanged, and requests as the hub
counted them (SyncRun.requests) and as the fake received them, by method. The
targets: >= 3,000 messages/s end to end, and requests <= the history pages
needed + one replies request per thread (more only for a thread longer than a page).
"""

from __future__ import annotations

import argparse
import cProfile
import math
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

TOKEN = "xoxb-test-token"  # noqa: S105 (the fake Slack's default token)
TARGET_MESSAGES_PER_SECOND = 3_000
METHODS = ("conversations.history", "conversations.replies", "auth.test")


@dataclass
class Scale:
    channels: int
    messages: int
    thread_every: int
    replies: int
    history_limit: int

    @property
    def threads_per_channel(self) -> int:
        if self.thread_every <= 0 or self.replies <= 0:
            return 0
        return sum(
            1
            for index in range(self.messages)
            if index % self.thread_every == self.thread_every // 2
        )

    def requests_allowed(self) -> dict[str, int]:
        """History pages needed, and per thread the replies pages it needs (its parent
        comes first on the first page)."""
        history = self.channels * max(1, math.ceil(self.messages / self.history_limit))
        per_thread = max(1, math.ceil((self.replies + 1) / self.history_limit))
        replies = self.channels * self.threads_per_channel * per_thread
        return {"conversations.history": history, "conversations.replies": replies}


def method_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]  # /api/conversations.history


def sync_messages(full: bool) -> dict[str, list[Any]]:
    from ingestion.harness import run_sync
    from ingestion.streams import get_stream

    stream = get_stream("slack", "messages")
    return {
        "messages": [run_sync(stream, channel, full=full) for channel in stream.configured_scopes()]
    }


def slack_phase(
    label: str, fake: Fake, *, full: bool, profiler: cProfile.Profile | None = None
) -> Phase:
    result = run_phase(Phase(label), fake, lambda: sync_messages(full), profiler)
    print_phase(result)
    return result


def print_phase(result: Phase) -> None:
    print(
        f"  {result.label}: {result.seconds:6.1f} s ({result.cpu_seconds:.1f} s CPU in the hub), "
        f"{result.total('fetched'):,} messages fetched ({result.rate():,.0f} /s), "
        f"created {result.total('created'):,}, updated {result.total('updated'):,}, "
        f"unchanged {result.total('unchanged'):,}, rejected {result.total('rejected'):,}; "
        f"{result.total('pages'):,} harness pages",
        flush=True,
    )
    by_method = ", ".join(f"{method} {result.received[method]:,}" for method in METHODS)
    print(
        f"    requests: {result.total('requests'):,} counted by the hub, "
        f"{result.received_total:,} received by the fake ({by_method}); "
        f"retries {result.total('retries')}",
        flush=True,
    )


def check_targets(scale: Scale, full: Phase, steady: Phase) -> list[str]:
    allowed = scale.requests_allowed()
    lines = [
        f"{verdict(full.rate() >= TARGET_MESSAGES_PER_SECOND)} full sync: {full.rate():,.0f} "
        f"messages/s end to end (target >= {TARGET_MESSAGES_PER_SECOND:,})",
    ]
    for method, limit in allowed.items():
        made = full.received[method]
        lines.append(
            f"{verdict(made <= limit)} full sync {method}: {made:,} requests (target <= {limit:,})"
        )
    made = sum(full.received[method] for method in allowed)
    limit = sum(allowed.values())
    lines.append(
        f"{verdict(made <= limit)} full sync: {made:,} history + replies requests "
        f"(target <= {limit:,}: pages needed + one per threaded message)"
    )
    lines.append(
        f"{verdict(steady.received['conversations.history'] == scale.channels)} unchanged "
        f"incremental: {steady.received['conversations.history']} history requests "
        f"(target {scale.channels}: one per channel), "
        f"{steady.received['conversations.replies']} replies requests"
    )
    print("  targets:", flush=True)
    for line in lines:
        print(f"    {line}", flush=True)
    return lines


def write_figures(
    path: str, database: str, scale: Scale, phases: list[Phase], lines: list[str]
) -> None:
    """Append this database's figures to `path` (markdown), for the benchmarks README."""
    full = phases[0]
    rows = [
        f"| {database} | {phase.label} | {phase.seconds:.1f} s | {phase.total('fetched'):,} | "
        f"{phase.rate():,.0f} /s | {phase.total('requests'):,} | "
        f"{phase.received['conversations.history']:,} / "
        f"{phase.received['conversations.replies']:,} |"
        for phase in phases
    ]
    with open(path, "a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write(
                "| database | phase | wall time | messages | messages/s | requests (hub) | "
                "history / replies (fake) |\n|---|---|---|---|---|---|---|\n"
            )
        out.write("\n".join(rows) + "\n")
        out.write(
            f"<!-- {database}: {scale.channels} channels x {scale.messages:,} messages, "
            f"{full.total('fetched'):,} with replies; " + "; ".join(lines) + " -->\n"
        )


def run_one(arguments: argparse.Namespace) -> None:
    scale = Scale(
        arguments.channels,
        arguments.messages,
        arguments.thread_every,
        arguments.replies,
        arguments.history_limit,
    )
    options = {
        "channels": scale.channels,
        "messages": scale.messages,
        "thread_every": scale.thread_every,
        "replies": scale.replies,
        "users": arguments.users,
        "seed": arguments.seed,
    }
    with Fake("tests.fakes.slack:create_app", options, method_of) as fake:
        print(
            f"{arguments.database}: fake Slack at {fake.url} (own process, data generated in "
            f"{fake.ready_seconds:.1f} s): {scale.channels} channels x "
            f"{scale.messages:,} messages, {scale.threads_per_channel} threads of {scale.replies} "
            f"replies each; {machine_load()}",
            flush=True,
        )
        with fresh_django(
            arguments.database,
            arguments.postgres_url,
            SLACK_API_URL=f"{fake.url}/api/",
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_CHANNELS="",
            SLACK_REQUESTS_PER_MINUTE="0",
            SLACK_HISTORY_LIMIT=str(scale.history_limit),
        ):
            from ingestion.harness import run_sync
            from ingestion.streams import get_stream

            print(
                f"  raw keeping {raw_keeping()}; pages of {scale.history_limit} messages; pace off",
                flush=True,
            )
            for entity in ("channels", "users"):
                run = run_sync(get_stream("slack", entity))
                assert run.status == "succeeded", run
            profiler = cProfile.Profile() if arguments.profile else None
            full = slack_phase("full sync", fake, full=True, profiler=profiler)
            if profiler is not None:
                print_profile(profiler, (arguments.profile_order,), lines=40)
            steady = slack_phase("unchanged incremental", fake, full=False)
            lines = check_targets(scale, full, steady)
            if arguments.figures:
                write_figures(arguments.figures, arguments.database, scale, [full, steady], lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = database_parser(
        __doc__.split("\n")[0], "postgres://postgres@127.0.0.1:5432/hub_slackbench"
    )
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5_000, help="per channel")
    parser.add_argument("--thread-every", type=int, default=10, help="1 in N is a thread")
    parser.add_argument("--replies", type=int, default=3, help="per thread")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--history-limit", type=int, default=200, help="SLACK_HISTORY_LIMIT")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the full sync")
    parser.add_argument("--profile-order", default="tottime", help="tottime, cumulative, …")
    parser.add_argument("--figures", default="", help="append a markdown table of figures here")
    return parser.parse_args(argv)


def main() -> None:
    run_each_database(__file__, parse_arguments(), run_one)


if __name__ == "__main__":
    main()
