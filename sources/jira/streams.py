"""The Jira streams: issues per project (through JQL search) and sprints per board.

`jira/issues` searches `project = KEY AND updated >= "<checkpoint - overlap>"
ORDER BY updated ASC, key ASC`, the bound written in the user's time zone and
rounded down to the minute (`jql.py`). Cloud pages with `nextPageToken`
(`/rest/api/3/search/jql`); Data Center with `startAt` (`/rest/api/2/search`),
re-anchored on the minute of the last issue read, so that issues updated during
the sync (which move to the end of the order) shift no unread issue past a page
boundary. Cursors keep the exact JQL, so a resumed run asks the same question.
A thread asks for each search's next page while the harness loads the ones before
(`client.Chain`), and up to SEARCHES_PER_PAGE searches make one harness page.

`jira/sprints` lists a board's sprints through the Agile API, `startAt` to
`isLast`. Issues are linked to their sprints by the issues stream; a sprint
stored after its issues were read gets them linked by the next issues run,
which also searches the issues of sprints stored since its previous run.

`jira/issues` also answers reconciliation (`ingestion.reconcile`): the ids a
search of the project still returns, so that issues deleted or moved away in
Jira are marked deleted here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from ingestion import load
from ingestion.choices import RunStatus
from ingestion.errors import IngestionError, PermanentError, RecordRejected
from ingestion.models import SyncRun, SyncState
from ingestion.parsing import parse_time
from ingestion.streams import FetchContext, Page, Row, Stream, register
from sources.jira import normalize
from sources.jira.client import JiraClient, Request, State, is_configured
from sources.jira.jql import (
    check_project_key,
    exact_minute,
    issues_filter,
    literal,
    ordered,
)
from sources.jira.site import JiraSession, fetching
from tracking.choices import BugSource, Source
from tracking.models import Bug, Issue, Sprint

logger = logging.getLogger("ingestion")

# Not "project": the search names it, and its object (avatars and all) is a sixth of a
# payload that is encoded, hashed and kept per issue.
ISSUE_FIELDS = (
    "summary",
    "description",
    "issuetype",
    "status",
    "priority",
    "resolution",
    "assignee",
    "reporter",
    "labels",
    "components",
    "created",
    "updated",
    "resolutiondate",
)
# Keys of the objects in an issue's fields that only link elsewhere (see _drop_links).
LINK_KEYS = ("self", "avatarUrls", "iconUrl", "avatarId")
# Searches asking for ids only may page by up to 5,000 on Cloud; Data Center's default
# cap (jira.search.views.default.max) is 1,000.
CLOUD_ID_PAGE_SIZE = 5000
DATA_CENTER_ID_PAGE_SIZE = 1000
# Upstream pages (of JIRA_PAGE_SIZE issues) loaded in one harness transaction: the
# harness's per-transaction work (references, links, checkpoint, commit) is paid once for
# them. A crash re-reads at most this many searches.
SEARCHES_PER_PAGE = 5
# Sprints stored since the last issues run whose issues one search re-reads; beyond
# this the run re-reads the whole project instead of writing a very long JQL.
SPRINTS_TO_LINK_LIMIT = 200


def page_size() -> int:
    return max(1, min(100, settings.JIRA_PAGE_SIZE))


def project_key(scope: str) -> str:
    if not scope:
        raise PermanentError("jira/issues runs per project: give a project key as the scope.")
    try:
        return check_project_key(scope)
    except ValueError as error:
        raise PermanentError(f"Jira scope: {error}.") from None


def board_id(scope: str) -> int:
    if not scope.isdigit():
        raise PermanentError(
            f"jira/sprints runs per board: the scope is a board id (a number), not {scope!r}."
        )
    return int(scope)


def _synced_scopes(entity: str) -> list[str]:
    return sorted(
        SyncState.objects.filter(source=Source.JIRA, entity=entity)
        .exclude(scope="")
        .values_list("scope", flat=True)
    )


def configured_projects() -> list[str]:
    """JIRA_PROJECTS, else every project the credentials may browse. When Jira cannot be
    asked (down, refusing), the projects synced before, so the schedule goes on."""
    if settings.JIRA_PROJECTS:
        return [key.strip() for key in settings.JIRA_PROJECTS if key.strip()]
    if not is_configured():
        return []
    try:
        with fetching() as session:
            return sorted(session.client.project_keys())
    except IngestionError as error:
        logger.warning("could not list the Jira projects (%s); using the ones synced before", error)
        return _synced_scopes("issues")


def configured_boards() -> list[str]:
    """JIRA_BOARDS, else the scrum boards of the configured projects (of every project
    when JIRA_PROJECTS is empty)."""
    if settings.JIRA_BOARDS:
        return [str(board).strip() for board in settings.JIRA_BOARDS if str(board).strip()]
    if not is_configured():
        return []
    try:
        with fetching() as session:
            if settings.JIRA_PROJECTS:
                found = {
                    board
                    for project in configured_projects()
                    for board in session.client.scrum_boards(project)
                }
            else:
                found = set(session.client.scrum_boards())
    except IngestionError as error:
        logger.warning("could not list the Jira boards (%s); using the ones synced before", error)
        return _synced_scopes("sprints")
    return [str(board) for board in sorted(found)]


class JiraStream(Stream):
    source = Source.JIRA
    scoped = True


@register
class IssuesStream(JiraStream):
    """A project's issues changed since the checkpoint, oldest change first; issues of
    type Bug also become Bugs."""

    entity = "issues"
    model = Issue
    version_field = "updated_at"
    # JQL dates have minute resolution (the bound is also rounded down to its minute);
    # the second minute covers Jira's search index lagging behind a write.
    overlap = dt.timedelta(minutes=2)
    # Rows that share an issue's natural key and go with it when it is gone upstream.
    reconcile_derived = ((Bug, BugSource.JIRA),)

    def configured_scopes(self) -> list[str]:
        return configured_projects()

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.issue_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.issue_rows(record)

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return normalize.issue_time(record)

    # --- fetch ---------------------------------------------------------------------------------
    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        project = project_key(context.scope)
        with fetching() as session:
            facts = session.facts
            story_points = facts.story_points_fields()
            sprint_field = facts.sprint_field()
            fields = [*ISSUE_FIELDS, *story_points, *([sprint_field] if sprint_field else [])]
            hub = normalize.issue_context(
                site=session.credentials.base_url,
                project=project,
                story_points_fields=story_points,
                sprint_field=sprint_field,
            )
            search = self._cloud_pages if facts.is_cloud else self._data_center_pages
            reported = 0
            batch: list[dict[str, Any]] = []
            searches = 0
            for issues, cursor in search(session, context, project, fields):
                batch.extend(issues)
                searches += 1
                if cursor is not None and searches < SEARCHES_PER_PAGE:
                    continue
                records = _with_context(batch, hub, sprint_field)
                yield Page(records, cursor, requests=session.requests - reported)
                reported, batch, searches = session.requests, [], 0

    def _search_errors(self, session: JiraSession, project: str) -> dict[int, str]:
        missing = (
            f"Jira has no project {project} that {session.facts.account or 'the account'} may "
            "browse: fix JIRA_PROJECTS (or the --scope), or give the account access"
        )
        return {400: missing, 404: missing}

    def _filters(self, session: JiraSession, context: FetchContext, project: str) -> list[str]:
        """The search's filter: changed since the window's lower bound, or in a sprint stored
        since the last run; then the same without the sprints, in case Jira rejects one of
        them (a sprint deleted since it was stored here makes the query invalid)."""
        since = None if context.full else context.since
        time_zone = session.facts.time_zone
        if since is None:
            return [issues_filter(project, None, time_zone)]
        sprints = sprints_to_link(project)
        if sprints is None:
            logger.info(
                "more than %s sprints stored since the last jira/issues run of %s: "
                "reading the whole project to link their issues",
                SPRINTS_TO_LINK_LIMIT,
                project,
            )
            return [issues_filter(project, None, time_zone)]
        plain = issues_filter(project, since, time_zone)
        if not sprints:
            return [plain]
        return [issues_filter(project, since, time_zone, sprints), plain]

    def _cloud_pages(
        self, session: JiraSession, context: FetchContext, project: str, fields: list[str]
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        client, cursor = session.client, context.cursor or {}
        if cursor.get("jql"):
            queries = [cursor["jql"]]
        else:
            queries = [
                ordered(jql_filter) for jql_filter in self._filters(session, context, project)
            ]
        errors = self._search_errors(session, project)

        def request_for(state: tuple[str, str | None]) -> Request:
            jql, token = state
            return client.search_cloud(
                jql, fields=fields, max_results=page_size(), token=token, errors=errors
            )

        def retry_from(start: tuple[str, str | None]) -> tuple[str, str | None] | None:
            if start[1] is not None:
                # A kept token lives 7 days; an expired one restarts this window's
                # search (pages read again count unchanged).
                logger.info("the kept nextPageToken was refused; searching %s again", project)
                return start[0], None
            if start[0] != queries[-1]:
                logger.warning("Jira refused the search with new sprints; searching without")
                return queries[-1], None
            return None

        start = (queries[0], cursor.get("token"))
        yield from _search_pages(
            client, start, request_for, _next_cloud_page, _cloud_cursor, retry_from
        )

    def _data_center_pages(
        self, session: JiraSession, context: FetchContext, project: str, fields: list[str]
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        client, cursor = session.client, context.cursor or {}
        if cursor.get("filter"):
            filters = [cursor["filter"]]
        else:
            filters = self._filters(session, context, project)
        errors = self._search_errors(session, project)
        time_zone = session.facts.time_zone

        def request_for(state: DataCenterPage) -> Request:
            return client.search_data_center(
                ordered(state.filter, state.anchor),
                fields=fields,
                max_results=page_size(),
                start_at=state.skip,
                errors=errors,
            )

        def next_state(state: DataCenterPage, data: Any) -> DataCenterPage | None:
            return _next_data_center_page(state, data, time_zone)

        def retry_from(start: DataCenterPage) -> DataCenterPage | None:
            if start.filter == filters[-1]:
                return None
            logger.warning("Jira refused the search with new sprints; searching without")
            return DataCenterPage(filters[-1], start.anchor, start.skip)

        start = DataCenterPage(filters[0], cursor.get("anchor"), int(cursor.get("skip", 0)))
        yield from _search_pages(
            client, start, request_for, next_state, DataCenterPage.as_cursor, retry_from
        )

    # --- reconciliation (ingestion.reconcile) ---------------------------------------------------
    def live_keys(self, scope: str) -> Iterator[str]:
        """The ids of every issue a search of the project returns now (ids only)."""
        project = project_key(scope)
        jql = f"project = {literal(project)} ORDER BY key ASC"
        with fetching() as session:
            errors = self._search_errors(session, project)
            for issues in _id_pages(session, jql, errors):
                yield from (str(issue["id"]) for issue in issues if isinstance(issue, dict))

    def still_live(self, scope: str, keys: list[str]) -> set[str]:
        """Which of `keys` a second listing of the project returns. Data Center pages by
        offset: an issue deleted while the first listing ran shifts the rest, and one of
        them may be missed; it is not missed twice. (Asking by id, `id in (…)`, would not
        do: Jira rejects the whole query when one of the ids no longer exists.)"""
        wanted = set(keys)
        return {key for key in self.live_keys(scope) if key in wanted}

    def scope_rows(self, scope: str) -> QuerySet[Issue]:
        return Issue.objects.filter(source=Source.JIRA, upstream_project=scope)


@register
class SprintsStream(JiraStream):
    """A board's sprints (future, active and closed), every run: boards have tens of them,
    and a sprint's payload has no change time to be incremental on."""

    entity = "sprints"
    model = Sprint

    def configured_scopes(self) -> list[str]:
        return configured_boards()

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.sprint_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.sprint_rows(record)

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        board = board_id(context.scope)
        start_at = int((context.cursor or {}).get("startAt", 0))
        with fetching() as session:
            account = session.facts.account or "the account"
            errors = {
                404: f"Jira has no board {board} that {account} can see: fix JIRA_BOARDS "
                "(or the --scope)",
                400: f"Jira board {board} has no sprints (a kanban board?): leave it out of "
                "JIRA_BOARDS",
            }
            hub = normalize.sprint_context(site=session.credentials.base_url, board=board)
            reported = 0
            while True:
                records, last = session.client.board_sprints(
                    board, start_at=start_at, errors=errors
                )
                start_at += len(records)
                yield Page(
                    [normalize.with_context(record, hub) for record in records],
                    None if last else {"startAt": start_at},
                    requests=session.requests - reported,
                )
                reported = session.requests
                if last:
                    return


def _issues_of(data: Any) -> list[dict[str, Any]]:
    issues = data.get("issues") if isinstance(data, dict) else None
    if not isinstance(issues, list):
        raise PermanentError("Jira answered a search without an issues list.")
    return issues


def _id_pages(
    session: JiraSession, jql: str, errors: dict[int, str]
) -> Iterator[list[dict[str, Any]]]:
    """Pages of a search asking for issue ids only."""
    client, cloud = session.client, session.facts.is_cloud
    size = CLOUD_ID_PAGE_SIZE if cloud else DATA_CENTER_ID_PAGE_SIZE
    token: str | None = None
    start_at = 0
    while True:
        if cloud:
            request = client.search_cloud(
                jql, fields=["id"], max_results=size, token=token, errors=errors
            )
        else:
            request = client.search_data_center(
                jql, fields=["id"], max_results=size, start_at=start_at, errors=errors
            )
        data = client.run(request)
        issues = _issues_of(data)
        yield issues
        if cloud:
            following = _next_cloud_page((jql, token), data)
            if following is None:
                return
            token = following[1]
        else:
            start_at += len(issues)
            total = data.get("total")
            if not issues or not isinstance(total, int) or start_at >= total:
                return


def _search_pages(
    client: JiraClient,
    start: State,
    request_for: Callable[[State], Request],
    next_state: Callable[[State, Any], State | None],
    cursor_of: Callable[[State], dict[str, Any]],
    retry_from: Callable[[State], State | None],
) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """The issues of each page of a search and the cursor after it, read ahead by a
    Chain. When Jira refuses the first page, `retry_from(start)` says where to search
    again (None: the refusal stands)."""
    while True:
        chain = client.chain(start, request_for, next_state)
        try:
            first = True
            for state, data in chain:
                first = False
                following = next_state(state, data)
                yield _issues_of(data), (cursor_of(following) if following else None)
            return
        except PermanentError:
            retry = retry_from(start) if first else None
            if retry is None:
                raise
            start = retry
        finally:
            chain.close()


def _cloud_cursor(state: tuple[str, str | None]) -> dict[str, Any]:
    return {"jql": state[0], "token": state[1]}


def _next_cloud_page(state: tuple[str, str | None], data: Any) -> tuple[str, str | None] | None:
    """The next page of a Cloud search, or None after the last (which has no token)."""
    token = data.get("nextPageToken") if isinstance(data, dict) else None
    if not token or (isinstance(data, dict) and data.get("isLast")):
        return None
    return state[0], str(token)


@dataclass(frozen=True)
class DataCenterPage:
    """Where a Data Center search page starts: the filter, the minute it is anchored on
    (None: the window's own bound) and how many issues from there were read."""

    filter: str
    anchor: str | None
    skip: int

    def as_cursor(self) -> dict[str, Any]:
        return {"filter": self.filter, "anchor": self.anchor, "skip": self.skip}


def _next_data_center_page(
    state: DataCenterPage, data: Any, time_zone: str
) -> DataCenterPage | None:
    issues = data.get("issues") if isinstance(data, dict) else None
    if not isinstance(issues, list) or not issues:
        return None
    total = data.get("total")
    if isinstance(total, int) and state.skip + len(issues) >= total:
        return None
    anchor, skip = next_anchor(issues, state.anchor, state.skip, time_zone)
    return DataCenterPage(state.filter, anchor, skip)


def next_anchor(
    issues: list[dict[str, Any]], anchor: str | None, skip: int, time_zone: str
) -> tuple[str | None, int]:
    """Where the next Data Center page starts: from the minute of the last issue read,
    past the issues of that minute already read. When that minute cannot be told
    exactly, the offset moves on instead (a re-read is harmless; a skip is not)."""
    minutes = [_minute_of(issue, time_zone) for issue in issues]
    last = minutes[-1] if minutes else None
    if last is None or last == anchor:
        return anchor, skip + len(issues)
    return last, sum(1 for minute in minutes if minute == last)


def _minute_of(issue: Any, time_zone: str) -> str | None:
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if not isinstance(fields, dict):
        return None
    try:
        updated = parse_time(fields.get("updated"), "fields.updated")
    except RecordRejected:
        return None
    return exact_minute(updated, time_zone) if updated else None


def _with_context(
    issues: list[dict[str, Any]], hub: dict[str, Any], sprint_field: str
) -> list[dict[str, Any]]:
    """The issues with their `_hub` block, naming which of their sprints are stored now
    (one query per page)."""
    sprints_of = [_sprints_of(issue, sprint_field) for issue in issues]
    wanted = sorted({sprint for ids in sprints_of for sprint in ids})
    # The load stage's key lookup: one plain SELECT on the natural-key index.
    found = load.rows_by_keys(Sprint, {"source": Source.JIRA}, wanted, ["external_id"])
    known = {external_id for (external_id,) in found}
    for issue, ids in zip(issues, sprints_of, strict=True):
        if isinstance(issue, dict):  # else the harness rejects it, with the reason
            # In place: the page was just decoded, and is nobody else's.
            _drop_links(issue)
            issue[normalize.HUB_KEY] = {
                **hub,
                "known_sprints": [sprint for sprint in ids if sprint in known],
            }
    return issues


def _drop_links(issue: dict[str, Any]) -> None:
    """Drop the links to REST resources, icons and avatars from an issue as kept.

    No row is built from them; they are a third of an issue's payload, which the
    harness encodes, hashes and keeps for every issue; and they change on their
    own (a new avatar), which would make unchanged issues look changed.
    """
    issue.pop("self", None)
    issue.pop("expand", None)
    fields = issue.get("fields")
    if not isinstance(fields, dict):
        return
    for value in fields.values():
        if isinstance(value, dict):
            _drop_object_links(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _drop_object_links(item)


def _drop_object_links(value: dict[str, Any]) -> None:
    for key in LINK_KEYS:
        value.pop(key, None)
    category = value.get("statusCategory")
    if isinstance(category, dict):
        category.pop("self", None)


def _sprints_of(issue: Any, sprint_field: str) -> list[str]:
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if not sprint_field or not isinstance(fields, dict):
        return []
    try:
        return normalize.sprint_ids(fields.get(sprint_field), sprint_field)
    except RecordRejected:
        return []  # normalize rejects the issue, with the reason


def sprints_to_link(project: str) -> list[str] | None:
    """Ids of the sprints that may have been stored after issues of the project naming them
    were loaded (and so were not linked to them); None when there are more than
    SPRINTS_TO_LINK_LIMIT.

    Those are the sprints first stored since the window the last successful
    jira/issues run of the project covered began: the first attempt after the
    success before it, as a failed attempt loads pages too. A sprint whose
    jira/sprints run was still going when that window began may have committed
    after an issue page looked for it, so the window reaches back to that run's
    start. Sprints stored before, by runs that had finished, were there for
    every issue page of the window.
    """
    runs = SyncRun.objects.filter(source=Source.JIRA, entity="issues", scope=project)
    last = runs.filter(status=RunStatus.SUCCEEDED).order_by("-started_at", "-pk").first()
    if last is None:
        return []  # no issues of the project were loaded by a successful run yet
    earlier = (
        runs.filter(status=RunStatus.SUCCEEDED, started_at__lt=last.started_at)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    attempts = runs.filter(started_at__lte=last.started_at)
    if earlier is not None:
        attempts = attempts.filter(started_at__gt=earlier)
    window = attempts.order_by("started_at").values_list("started_at", flat=True).first()
    window = window or last.started_at
    overlapping = (
        SyncRun.objects.filter(source=Source.JIRA, entity="sprints", started_at__lt=window)
        .filter(Q(finished_at__gte=window) | Q(finished_at__isnull=True))
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    since = min(window, overlapping) if overlapping else window
    ids = list(
        Sprint.objects.filter(source=Source.JIRA, first_seen_at__gte=since).values_list(
            "external_id", flat=True
        )[: SPRINTS_TO_LINK_LIMIT + 1]
    )
    if len(ids) > SPRINTS_TO_LINK_LIMIT:
        return None
    return [sprint for sprint in ids if sprint.isdigit()]
