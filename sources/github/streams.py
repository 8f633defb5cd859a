"""The GitHub streams: repositories, and per repository its commits, issues and pull requests.

Each fetch opens one `GitHubClient` (one credential, its shared budget, ETags,
retries) and yields GitHub's pages as they come; cursors are the next page's
URL from the `Link` header, so a resumed run asks for exactly the page it
stopped before. Normalizing is in `normalize.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from ingestion.errors import PermanentError, RecordRejected
from ingestion.streams import FetchContext, Page, Row, Stream, register
from sources.github import normalize
from sources.github.client import GitHubClient, ListPage, fetching
from tracking.choices import Source
from tracking.models import Commit, Issue, PullRequest, Repository

PER_PAGE = 100
# Lists whose first page changes whenever any item changes: a 304 on it means nothing did.
NEWEST_CHANGE_FIRST = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}


def iso(moment: dt.datetime) -> str:
    """UTC with a Z: PyGithub formats `since` without converting, GitHub wants UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def configured_repositories() -> list[str]:
    """The repositories the schedule syncs: GITHUB_REPOS, else every synced one the
    fork and archive settings keep."""
    if settings.GITHUB_REPOS:
        return [name.strip() for name in settings.GITHUB_REPOS if name.strip()]
    repositories = Repository.objects.filter(source=Source.GITHUB)
    if not settings.GITHUB_INCLUDE_FORKS:
        repositories = repositories.filter(is_fork=False)
    if not settings.GITHUB_INCLUDE_ARCHIVED:
        repositories = repositories.filter(is_archived=False)
    return list(repositories.order_by("full_name").values_list("full_name", flat=True))


def _orgs() -> list[str]:
    return [org.strip() for org in settings.GITHUB_ORGS if org.strip()]


def known_repository(scope: str) -> Repository:
    if "/" not in scope:
        raise PermanentError(f"A GitHub scope is a repository as owner/name, not {scope!r}.")
    repository = (
        Repository.objects.filter(source=Source.GITHUB, full_name__iexact=scope)
        .order_by("-last_seen_at", "-pk")
        .first()
    )
    if repository is None:
        raise PermanentError(
            f"Repository {scope} is not known yet: sync github/repositories first "
            "(GITHUB_REPOS or GITHUB_ORGS must include it)."
        )
    return repository


def since_param(context: FetchContext) -> dict[str, str]:
    """`since` for an incremental read (the checkpoint minus the overlap); none for a full one."""
    if context.since is None or context.full:
        return {}
    return {"since": iso(context.since)}


def _sequence_cursor(
    key: str, index: int, count: int, next_url: str | None
) -> dict[str, Any] | None:
    """Where to resume in a sequence of lists (the user's and each organisation's
    repositories, each branch's commits): the next page of this list, else the next
    list, else nothing."""
    if next_url:
        return {key: index, "url": next_url}
    if index + 1 < count:
        return {key: index + 1}
    return None


def _page(listed: ListPage, records: list[dict[str, Any]], cursor: dict[str, Any] | None) -> Page:
    return Page(records=records, next_cursor=cursor, requests=listed.requests)


class GitHubStream(Stream):
    source = Source.GITHUB

    def configured_scopes(self) -> list[str]:
        return configured_repositories() if self.scoped else [""]


class ScopedGitHubStream(GitHubStream):
    """A stream per synced repository (the scope, owner/name), read with one client.

    `hub` is the context (`normalize.hub_context`) that records needing their repository
    carry: GitHub's commits, issues and jobs do not name it.
    """

    scoped = True

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        repository = known_repository(context.scope)
        hub = normalize.hub_context(repository.external_id, repository.full_name)
        with fetching(context) as client:
            yield from self.fetch_repository(client, repository, hub, context)

    def fetch_repository(
        self,
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        context: FetchContext,
    ) -> Iterator[Page]:
        raise NotImplementedError


class ChangedItemsStream(ScopedGitHubStream):
    """Issues and pull requests: keyed by node id, versioned and checkpointed by
    `updated_at`, so a late or repeated read never moves a row back."""

    version_field = "updated_at"
    # `updated_at` has one-second resolution; a minute also absorbs clock skew between
    # GitHub's frontends. Re-reads are absorbed as unchanged rows.
    overlap = dt.timedelta(minutes=1)

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.node_key(record)

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return normalize.change_time(record)


@register
class RepositoriesStream(GitHubStream):
    """The token's own repositories and its organisations' (GITHUB_ORGS), or exactly
    GITHUB_REPOS. With a scope (owner/name), only that repository: "sync this repo"."""

    entity = "repositories"
    model = Repository

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        names = [context.scope] if context.scope else settings.GITHUB_REPOS
        with fetching(context) as client:
            if names:
                yield from self._named(client, names, context)
            else:
                yield from self._listed(client, context)

    def _listed(self, client: GitHubClient, context: FetchContext) -> Iterator[Page]:
        lists: list[tuple[str, dict[str, Any]]] = [
            ("/user/repos", {"per_page": PER_PAGE, "sort": "full_name"}),
            *((f"/orgs/{org}/repos", {"per_page": PER_PAGE, "type": "all"}) for org in _orgs()),
        ]
        cursor = context.cursor or {}
        start = int(cursor.get("list", 0))
        seen: set[int] = set()
        for index in range(start, len(lists)):
            path, params = lists[index]
            resume = cursor.get("url") if index == start else None
            pages = client.list_pages(path, params, resume_url=resume, first_page_covers_list=False)
            for listed in pages:
                records = [record for record in listed.records if self._wanted(record, seen)]
                next_cursor = _sequence_cursor("list", index, len(lists), listed.next_url)
                yield _page(listed, records, next_cursor)

    def _named(
        self, client: GitHubClient, names: list[str], context: FetchContext
    ) -> Iterator[Page]:
        """One page per named repository; the ones GitHub does not show are reported
        together at the end, after every other one was stored."""
        start = int((context.cursor or {}).get("index", 0))
        missing = []
        for index in range(start, len(names)):
            name = names[index].strip().strip("/")
            before = client.requests
            answer = client.get_conditional(f"/repos/{name}", allow=(404,))
            records = [answer.data] if answer.status == 200 else []
            if answer.status == 404:
                missing.append(name)
            if index + 1 < len(names):
                next_cursor: dict[str, Any] | None = {"index": index + 1}
            else:
                # With some missing, the run fails after this page: the next one starts
                # over and looks for them again.
                next_cursor = {"index": 0} if missing else None
            yield Page(records, next_cursor, client.requests - before)
        if missing:
            raise PermanentError(
                f"GitHub shows no repository {', '.join(missing)} to {client.credential.label!r} "
                "(404): fix GITHUB_REPOS, or give the token access. The others were synced."
            )

    @staticmethod
    def _wanted(record: Any, seen: set[int]) -> bool:
        """Skip repeats (a repository in the user's and an organisation's list) and the
        forks and archives the settings leave out."""
        if not isinstance(record, dict):
            return True  # the harness rejects it, with the reason
        record_id = record.get("id")
        if record_id in seen:
            return False
        seen.add(record_id)
        if record.get("fork") and not settings.GITHUB_INCLUDE_FORKS:
            return False
        return not (record.get("archived") and not settings.GITHUB_INCLUDE_ARCHIVED)

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.repository_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.repository_rows(record)


@register
class CommitsStream(ScopedGitHubStream):
    """Commits of the default branch (of every branch with GITHUB_ALL_BRANCHES), newest
    first, since the checkpoint; a commit on several branches is one row knowing them all."""

    entity = "commits"
    model = Commit
    merge_fields = frozenset({"branches"})
    # Commit dates have one-second resolution; a minute also absorbs small clock skew
    # between GitHub's frontends. Re-reads are absorbed as unchanged rows.
    overlap = dt.timedelta(minutes=1)

    def fetch_repository(
        self,
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        context: FetchContext,
    ) -> Iterator[Page]:
        branches = self._branches(client, repository, context)
        cursor = context.cursor or {}
        start = int(cursor.get("branch", 0))
        for index in range(start, len(branches)):
            branch = branches[index]
            params = {"sha": branch, "per_page": PER_PAGE, **since_param(context)}
            resume = cursor.get("url") if index == start else None
            path = f"/repos/{repository.full_name}/commits"
            # 409: "Git Repository is empty."
            for listed in client.list_pages(path, params, resume_url=resume, allow=(409,)):
                context_for_branch = {**hub, "branch": branch}
                records = [normalize.with_context(r, context_for_branch) for r in listed.records]
                next_cursor = _sequence_cursor("branch", index, len(branches), listed.next_url)
                yield _page(listed, records, next_cursor)

    @staticmethod
    def _branches(client: GitHubClient, repository: Repository, context: FetchContext) -> list[str]:
        default = repository.default_branch or "main"
        if not settings.GITHUB_ALL_BRANCHES:
            return [default]
        names: list[str] = []
        path = f"/repos/{repository.full_name}/branches"
        # Not conditional: a 304 would leave us without the names. With every branch
        # read, a moved branch head is always seen.
        for listed in client.list_pages(path, {"per_page": PER_PAGE}, conditional=False):
            names.extend(
                str(branch["name"])
                for branch in listed.records
                if isinstance(branch, dict) and branch.get("name")
            )
        others = sorted(name for name in set(names) if name != default)
        return [default, *others]

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.commit_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.commit_rows(record)

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return normalize.commit_time(record)


@register
class IssuesStream(ChangedItemsStream):
    """Issues (not pull requests, which the issues endpoint also lists), changed since the
    checkpoint, newest change first; issues labelled as bugs also become Bugs."""

    entity = "issues"
    model = Issue

    def fetch_repository(
        self,
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        context: FetchContext,
    ) -> Iterator[Page]:
        params = {**NEWEST_CHANGE_FIRST, **since_param(context)}
        path = f"/repos/{repository.full_name}/issues"
        resume = (context.cursor or {}).get("url")
        for listed in client.list_pages(path, params, resume_url=resume):
            records = [
                normalize.with_context(record, hub)
                for record in listed.records
                if not (isinstance(record, dict) and "pull_request" in record)
            ]
            yield _page(listed, records, {"url": listed.next_url} if listed.next_url else None)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.issue_rows(record)


@register
class PullRequestsStream(ChangedItemsStream):
    """Pull requests, newest change first, until the first one older than the checkpoint
    (the pulls endpoint has no `since`)."""

    entity = "pull_requests"
    model = PullRequest

    def fetch_repository(
        self,
        client: GitHubClient,
        repository: Repository,
        hub: dict[str, Any],
        context: FetchContext,
    ) -> Iterator[Page]:
        since = context.since if not context.full else None
        path = f"/repos/{repository.full_name}/pulls"
        resume = (context.cursor or {}).get("url")
        for listed in client.list_pages(path, NEWEST_CHANGE_FIRST, resume_url=resume):
            records, reached_checkpoint = [], False
            for record in listed.records:
                if since is not None and self._older_than(record, since):
                    reached_checkpoint = True
                    break
                records.append(normalize.with_context(record, hub))
            more = listed.next_url and not reached_checkpoint
            yield _page(listed, records, {"url": listed.next_url} if more else None)
            if not more:
                return

    @staticmethod
    def _older_than(record: Any, since: dt.datetime) -> bool:
        if not isinstance(record, dict):
            return False
        try:
            updated = normalize.change_time(record)
        except RecordRejected:  # the harness rejects it, with the reason; not a stop
            return False
        return updated is not None and updated < since

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.pull_request_rows(record)
