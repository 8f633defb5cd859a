"""The GitHub Actions streams, per repository: its workflow runs (builds) and their jobs.

Both read through the GitHub source's client (`sources.github.client`): the same
credential, shared rate budget, retries, breaker and ETags as `github/*`, and
the same scopes (`configured_repositories`). Normalizing is in `normalize.py`.

- `github_actions/builds` lists the runs created since the checkpoint minus a
  day (runs that were still going at the last read are read again; unchanged
  ones cost nothing), newest first. A filtered runs list is a search that
  returns at most 1,000 runs, so a longer window is read in slices: when a list
  ends before its `total_count`, the next list asks for the runs created up to
  the oldest one read so far. Earlier attempts of a re-run run (the list shows
  only the latest) are fetched once, so every attempt is its own build.
- `github_actions/build_jobs` asks for the jobs of every run whose build this
  hub stored or changed since its checkpoint (our own `last_seen_at`, read from
  the database), all attempts at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from ingestion.errors import RecordRejected
from ingestion.streams import FetchContext, Page, Row, register
from sources.github.client import GitHubClient, ListPage
from sources.github.normalize import with_context
from sources.github.streams import PER_PAGE, ScopedGitHubStream, iso
from sources.github_actions import normalize
from tracking.choices import Source
from tracking.models import Build, BuildJob, Repository

logger = logging.getLogger("ingestion")

# How many changed builds the build_jobs stream reads from the database at a time.
BUILD_BATCH = 100


class ActionsStream(ScopedGitHubStream):
    """A GitHub Actions stream of one repository ("owner/name"), as github/commits is: the
    same scopes (`configured_repositories`), repository lookup and client."""

    source = Source.GITHUB_ACTIONS
    # Per GitHub repository: the github source sync queues these once it knows them.
    scopes_of = Source.GITHUB


def created_window(since: dt.datetime | None, before: str | None) -> str | None:
    """The runs list's `created` filter, in GitHub's search syntax (both ends inclusive)."""
    if since is not None and before is not None:
        return f"{iso(since)}..{before}"
    if since is not None:
        return f">={iso(since)}"
    if before is not None:
        return f"<={before}"
    return None


def _oldest_created(runs: list[Any]) -> dt.datetime | None:
    times = []
    for run in runs:
        try:
            times.append(normalize.build_time(run))
        except RecordRejected:
            continue  # the harness rejects it, with the reason
    return min(times, default=None)


@register
class BuildsStream(ActionsStream):
    """Workflow runs (one build per attempt), created since the checkpoint minus a day."""

    entity = "builds"
    model = Build
    # An older state (a late in_progress delivery after completed) never moves a build back.
    version_field = "updated_at"
    # The checkpoint is the newest run's creation time; a run created before it may still
    # be queued or running. A day re-reads those; older runs are left to the webhooks.
    overlap = dt.timedelta(days=1)

    def fetch_repository(
        self,
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        context: FetchContext,
    ) -> Iterator[Page]:
        # Runs name their repository themselves: `hub` is not needed.
        path = f"/repos/{repository.full_name}/actions/runs"
        since = None if context.full else context.since
        cursor = context.cursor or {}
        before: str | None = cursor.get("before")
        url: str | None = cursor.get("url")
        read = int(cursor.get("read", 0))
        while True:
            params: dict[str, Any] = {"per_page": PER_PAGE}
            window = created_window(since, before)
            if window:
                params["created"] = window
            narrowed: str | None = None
            # GET /repos/{owner}/{repo}/actions/runs
            for listed in client.list_pages(
                path,
                params,
                resume_url=url,
                first_page_covers_list=False,
                items_key="workflow_runs",
            ):
                read += len(listed.records)
                earlier, requests = self._earlier_attempts(client, repository, listed.records)
                if listed.next_url:
                    next_cursor: dict[str, Any] | None = {
                        "url": listed.next_url,
                        "before": before,
                        "read": read,
                    }
                else:
                    narrowed = self._narrowed(repository, before, listed, read)
                    next_cursor = {"before": narrowed, "read": 0} if narrowed else None
                records = [*earlier, *listed.records]
                yield Page(records, next_cursor, listed.requests + requests)
            if narrowed is None:
                return
            before, url, read = narrowed, None, 0

    @staticmethod
    def _narrowed(
        repository: Repository, before: str | None, last: ListPage, read: int
    ) -> str | None:
        """After a list's last page: None when it held every run it counted, else the
        upper bound of the next list (the oldest run read: runs of that second are
        read again, as unchanged rows)."""
        if last.not_modified or read >= last.total_count:
            return None
        oldest = _oldest_created(last.records)
        if oldest is None:
            logger.warning(
                "the runs list of %s ended, empty, after %s of the %s runs it counted",
                repository.full_name,
                read,
                last.total_count,
            )
            return None
        bound = iso(oldest)
        if bound == before:
            # More than a search's worth of runs created in one second: skip that second
            # rather than read it forever.
            logger.warning(
                "%s has more runs created at %s than GitHub lists at once; some are skipped",
                repository.full_name,
                bound,
            )
            bound = iso(oldest - dt.timedelta(seconds=1))
        return bound

    def _earlier_attempts(
        self, client: GitHubClient, repository: Repository, runs: list[Any]
    ) -> tuple[list[dict[str, Any]], int]:
        """The earlier attempts, not stored yet, of the re-run runs of a page (the list
        shows a run's latest attempt only); and the requests that cost."""
        wanted: dict[str, tuple[str, int]] = {}
        for run in runs:
            try:
                repository_id, run_id, attempt = normalize.build_key(run).split(":")
            except RecordRejected:
                continue  # the harness rejects it, with the reason
            for number in range(1, int(attempt)):
                wanted[f"{repository_id}:{run_id}:{number}"] = (run_id, number)
        if not wanted:
            return [], 0
        stored = set(
            Build.objects.filter(
                source=Source.GITHUB_ACTIONS, external_id__in=list(wanted)
            ).values_list("external_id", flat=True)
        )
        before = client.requests
        attempts = []
        for key, (run_id, number) in wanted.items():
            if key in stored:
                continue
            # GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}
            path = f"/repos/{repository.full_name}/actions/runs/{run_id}/attempts/{number}"
            answer = client.get(path, allow=(404,))
            if answer.status == 200 and isinstance(answer.data, dict):
                attempts.append(answer.data)
        return attempts, client.requests - before

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.build_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.build_rows(record)

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return normalize.build_time(record)


@dataclass(frozen=True)
class _ChangedBuild:
    pk: int
    run_id: int
    seen: dt.datetime


@register
class BuildJobsStream(ActionsStream):
    """The jobs (with their steps) of the runs whose builds changed since the checkpoint."""

    entity = "build_jobs"
    model = BuildJob
    version_field = "version_at"
    # The checkpoint is this hub's own clock (the builds' last_seen_at): ten minutes cover
    # a builds page that committed while this stream was reading the table.
    overlap = dt.timedelta(minutes=10)

    def fetch_repository(
        self,
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        context: FetchContext,
    ) -> Iterator[Page]:
        cursor = context.cursor or {}
        after: tuple[dt.datetime, int] | None = None
        if "seen" in cursor:
            after = (dt.datetime.fromisoformat(cursor["seen"]), int(cursor["id"]))
        if cursor.get("url") and after is not None:
            # Resume inside the jobs list of the build the cursor names.
            build = _ChangedBuild(after[1], int(cursor["run"]), after[0])
            yield from self._run_jobs(client, repository, hub, build, cursor["url"])
        # Runs whose jobs this run read. Not kept in the cursor: after a resume, a later
        # attempt of a run read before the stop asks once more (its rows come unchanged).
        fetched_runs: set[int] = set()
        for build in self._changed_builds(repository, context, after):
            if build.run_id in fetched_runs:
                continue  # another attempt of a run already read: its jobs came with it
            fetched_runs.add(build.run_id)
            yield from self._run_jobs(client, repository, hub, build, None)

    @staticmethod
    def _changed_builds(
        repository: Repository, context: FetchContext, after: tuple[dt.datetime, int] | None
    ) -> Iterator[_ChangedBuild]:
        """The repository's builds stored or changed since the checkpoint, by (last_seen_at,
        id), read in keyset batches (no OFFSET)."""
        builds = Build.objects.filter(source=Source.GITHUB_ACTIONS, repository=repository)
        if context.since is not None and not context.full:
            builds = builds.filter(last_seen_at__gte=context.since)
        while True:
            batch = builds
            if after is not None:
                seen, pk = after
                batch = batch.filter(Q(last_seen_at__gt=seen) | Q(last_seen_at=seen, pk__gt=pk))
            rows = list(
                batch.order_by("last_seen_at", "pk").values_list("pk", "run_id", "last_seen_at")[
                    :BUILD_BATCH
                ]
            )
            for pk, run_id, seen in rows:
                yield _ChangedBuild(pk, run_id, seen)
            if len(rows) < BUILD_BATCH:
                return
            after = (rows[-1][2], rows[-1][0])

    @staticmethod
    def _run_jobs(
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        build: _ChangedBuild,
        resume_url: str | None,
    ) -> Iterator[Page]:
        """Pages of the jobs of every attempt of the build's run."""
        job_context = {**hub, "build_seen_at": build.seen.isoformat()}
        position = {"seen": build.seen.isoformat(), "id": build.pk}
        path = f"/repos/{repository.full_name}/actions/runs/{build.run_id}/jobs"
        params = {"filter": "all", "per_page": PER_PAGE}
        # GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs (404: the run was deleted)
        for listed in client.list_pages(
            path,
            params,
            resume_url=resume_url,
            first_page_covers_list=False,
            allow=(404,),
            items_key="jobs",
        ):
            records = [with_context(job, job_context) for job in listed.records]
            if listed.next_url:
                next_cursor = {**position, "run": build.run_id, "url": listed.next_url}
            else:
                next_cursor = position
            yield Page(records, next_cursor, listed.requests)

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.build_job_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.build_job_rows(record)

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return normalize.build_job_time(record)
