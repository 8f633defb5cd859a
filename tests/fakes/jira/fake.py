"""`FakeJira`: a Jira site a test can read and change, its credentials, and its FakeApp.

    jira = FakeJira(deployment="cloud", projects=2, issues_per_project=30)
    server = fake_server(jira.app)
    JIRA(server.url, basic_auth=("hub@example.com", "jira-api-token"),
         options={"rest_api_version": "3"})

Mutators move the fake's clock (`now_ms`) on by `seconds` (a minute unless
told), so a changed issue is updated later than everything before it; a test
of minute resolution moves it by seconds.
"""

from __future__ import annotations

import random
import threading
import zoneinfo
from typing import Any

from tests.fakes.app import FakeApp
from tests.fakes.jira import jql
from tests.fakes.jira.data import (
    CLOUD,
    DATA_CENTER,
    DEPLOYMENTS,
    GENERATED_UNTIL_MS,
    ISSUE_ID_BASE,
    ISSUE_TYPES,
    PRIORITIES,
    PROJECT_ID_BASE,
    PROJECT_KEYS,
    RESOLUTIONS,
    SITE,
    STATUS_CATEGORIES,
    STATUSES,
    Board,
    Issue,
    Project,
    Sprint,
    User,
    field_ids,
    generate_issues,
    generate_sprints,
    jira_time,
    render_description,
    render_project,
    render_sprint_in_issue,
    render_user,
    user_pool,
)

# Search results kept per JQL while the data does not change (pages of one search).
SEARCH_CACHE_SIZE = 64
CHANGEABLE = frozenset(
    {
        "summary",
        "description",
        "issue_type",
        "status",
        "priority",
        "assignee",
        "reporter",
        "labels",
        "components",
        "story_points",
        "sprints",
        "resolution",
    }
)


class FakeJira:
    """A fake Jira site (Cloud or Data Center) for tests and benchmarks."""

    def __init__(
        self,
        *,
        deployment: str = CLOUD,
        projects: int | list[str] = 2,
        issues_per_project: int = 30,
        sprints_per_board: int = 6,
        kanban_board: bool = True,
        seed: int = 1,
        email: str = "hub@example.com",
        api_token: str = "jira-api-token",  # noqa: S107 (the fake's own credential)
        pat: str = "jira-pat",
        time_zone: str = "America/Los_Angeles",
        story_points_field: str = "",
        story_points_name: str = "",
    ) -> None:
        if deployment not in DEPLOYMENTS:
            raise ValueError(f"deployment must be one of {DEPLOYMENTS}, not {deployment!r}")
        self.deployment = deployment
        self.api = "3" if deployment == CLOUD else "2"
        self.email = email
        self.api_token = api_token
        self.pat = pat
        self.time_zone = time_zone
        self.zone = zoneinfo.ZoneInfo(time_zone)
        self.fields = field_ids(deployment, story_points_field, story_points_name)
        self.lock = threading.RLock()
        self.now_ms = GENERATED_UNTIL_MS
        self.version = 0
        self._searches: dict[str, tuple[int, jql.Query, list[Issue], list[tuple[int, ...]]]] = {}
        rng = random.Random(seed)
        self.users: dict[str, User] = {user.account_id: user for user in user_pool(deployment)}
        keys = list(projects) if isinstance(projects, list) else list(PROJECT_KEYS[:projects])
        self.projects: dict[str, Project] = {
            key: Project(PROJECT_ID_BASE + index, key, key.title())
            for index, key in enumerate(keys)
        }
        self.boards: dict[int, Board] = {}
        self.sprints: dict[int, Sprint] = {}
        self.shared_sprints: dict[int, set[int]] = {}  # board → sprints of other boards it shows
        self.issues: dict[int, Issue] = {}
        self._by_key: dict[str, int] = {}
        next_issue_id = ISSUE_ID_BASE
        for index, project in enumerate(self.projects.values()):
            board = Board(index + 1, f"{project.key} board", project.key)
            self.boards[board.id] = board
            board_sprints = generate_sprints(board, sprints_per_board, 1 + len(self.sprints), index)
            self.sprints.update((sprint.id, sprint) for sprint in board_sprints)
            users = list(self.users.values())
            for issue in generate_issues(
                project, issues_per_project, next_issue_id, board_sprints, users, rng
            ):
                self._store(issue)
            next_issue_id += issues_per_project
        if kanban_board and self.projects:
            first = next(iter(self.projects))
            self.boards[100] = Board(100, f"{first} kanban", first, type="kanban")
        self.hub_user = User(
            account_id="712020:hub-integration",
            key="JIRAUSER10000",
            name="hub",
            display_name="Hub Integration",
            email=email,
        )
        from tests.fakes.jira.routes import build_app  # routes import this module

        self.app: FakeApp = build_app(self)

    # --- credentials ------------------------------------------------------------------------
    def accepts(self, scheme: str, user: str, secret: str) -> bool:
        """Cloud: Basic email + API token. Data Center: Bearer personal access token."""
        if self.deployment == CLOUD:
            return scheme == "basic" and (user, secret) == (self.email, self.api_token)
        return scheme == "bearer" and secret == self.pat

    # --- lookups (the JQL catalogue) -------------------------------------------------------------
    def has_project(self, value: str) -> str | None:
        for project in self.projects.values():
            if value.upper() == project.key or value == str(project.id) or value == project.name:
                return project.key
        return None

    def has_sprint(self, sprint_id: int) -> bool:
        return sprint_id in self.sprints

    def issue(self, key: str) -> Issue:
        with self.lock:
            try:
                return self.issues[self._by_key[key]]
            except KeyError:
                raise KeyError(f"the fake Jira has no issue {key}") from None

    def issue_by_id(self, issue_id: int) -> Issue:
        with self.lock:
            return self.issues[issue_id]

    def project_issues(self, project: str) -> list[Issue]:
        with self.lock:
            return [issue for issue in self.issues.values() if issue.project == project]

    def user(self, login: str) -> User:
        for user in self.users.values():
            if login in (user.name, user.account_id, user.key):
                return user
        raise KeyError(f"the fake Jira has no user {login!r}")

    def board_sprints(self, board_id: int) -> list[Sprint]:
        shared = self.shared_sprints.get(board_id, set())
        return sorted(
            (s for s in self.sprints.values() if s.board_id == board_id or s.id in shared),
            key=lambda sprint: sprint.id,
        )

    # --- search ----------------------------------------------------------------------------------
    def search(self, text: str) -> tuple[jql.Query, list[Issue], list[tuple[int, ...]]]:
        """The issues a JQL query finds, in its order, with their sort keys (kept while the
        data does not change: the pages of one search share it)."""
        with self.lock:
            cached = self._searches.get(text)
            if cached is not None and cached[0] == self.version:
                return cached[1], cached[2], cached[3]
            query = jql.parse(text, time_zone=self.time_zone, catalogue=self)
            bounded = query.fields_named & {"project", "key", "id", "issue", "issuekey", "sprint"}
            if not bounded and self.deployment == CLOUD:
                raise jql.jql_error(
                    "Unbounded JQL queries are not allowed here. Please add a search "
                    "restriction to your query."
                )
            rank = {key: index for index, key in enumerate(sorted(self.projects))}
            found = [issue for issue in self.issues.values() if query.predicate(issue)]
            keyed = sorted(((query.sort_key(issue, rank), issue) for issue in found), key=_first)
            issues = [issue for _, issue in keyed]
            keys = [key for key, _ in keyed]
            if len(self._searches) >= SEARCH_CACHE_SIZE:
                self._searches.clear()
            self._searches[text] = (self.version, query, issues, keys)
            return query, issues, keys

    # --- rendering -------------------------------------------------------------------------------
    def render_issue(self, issue: Issue, wanted: set[str] | None) -> dict[str, Any]:
        """An issue as a search returns it, with the fields asked for (None: all)."""
        if issue.rendered is None:
            issue.rendered = self._fields_of(issue)
        fields = issue.rendered
        if wanted is not None:
            fields = {name: value for name, value in fields.items() if name in wanted}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            "id": str(issue.id),
            "self": f"{SITE}/rest/api/{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    def _fields_of(self, issue: Issue) -> dict[str, Any]:
        zone, deployment = self.zone, self.deployment
        type_id, subtask, level = ISSUE_TYPES[issue.issue_type]
        status_id, category = STATUSES[issue.status]
        issue_type: dict[str, Any] = {
            "self": f"{SITE}/rest/api/{self.api}/issuetype/{type_id}",
            "id": type_id,
            "description": "",
            "iconUrl": f"{SITE}/images/icons/issuetypes/{issue.issue_type.lower()}.svg",
            "name": issue.issue_type,
            "subtask": subtask,
        }
        if deployment == CLOUD:
            issue_type["hierarchyLevel"] = level
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "description": render_description(issue.description, deployment),
            "issuetype": issue_type,
            "status": {
                "self": f"{SITE}/rest/api/{self.api}/status/{status_id}",
                "description": "",
                "iconUrl": f"{SITE}/images/icons/statuses/generic.png",
                "name": issue.status,
                "id": status_id,
                "statusCategory": {
                    "self": f"{SITE}/rest/api/{self.api}/statuscategory/"
                    f"{STATUS_CATEGORIES[category]['id']}",
                    **STATUS_CATEGORIES[category],
                },
            },
            "priority": {
                "self": f"{SITE}/rest/api/{self.api}/priority/{PRIORITIES[issue.priority]}",
                "iconUrl": f"{SITE}/images/icons/priorities/{issue.priority.lower()}.svg",
                "name": issue.priority,
                "id": PRIORITIES[issue.priority],
            },
            "resolution": None
            if issue.resolution is None
            else {
                "self": f"{SITE}/rest/api/{self.api}/resolution/{RESOLUTIONS[issue.resolution]}",
                "id": RESOLUTIONS[issue.resolution],
                "description": "",
                "name": issue.resolution,
            },
            "assignee": render_user(
                self.users.get(issue.assignee or ""), deployment, self.time_zone
            ),
            "reporter": render_user(self.users.get(issue.reporter), deployment, self.time_zone),
            "labels": list(issue.labels),
            "components": [
                {
                    "self": f"{SITE}/rest/api/{self.api}/component/{10000 + i}",
                    "id": str(10000 + i),
                    "name": name,
                }
                for i, name in enumerate(issue.components)
            ],
            "created": jira_time(issue.created_ms, zone),
            "updated": jira_time(issue.updated_ms, zone),
            "resolutiondate": jira_time(issue.resolved_ms, zone),
            "project": render_project(self.projects[issue.project], self.api),
            "customfield_10014": None,
            "customfield_10031": None,
            self.fields.story_points: issue.story_points,
            self.fields.sprint: [
                render_sprint_in_issue(self.sprints[sprint_id], deployment, zone)
                for sprint_id in issue.sprints
                if sprint_id in self.sprints
            ]
            or None,
        }
        return fields

    # --- mutators -------------------------------------------------------------------------
    def tick(self, seconds: float = 60) -> int:
        with self.lock:
            self.now_ms += int(seconds * 1000)
            self.version += 1
            return self.now_ms

    def _store(self, issue: Issue) -> None:
        issue.rendered = None
        self.issues[issue.id] = issue
        self._by_key[issue.key] = issue.id

    def add_issue(
        self,
        project: str,
        summary: str = "A new issue",
        *,
        seconds: float = 60,
        issue_type: str = "Task",
        status: str = "To Do",
        priority: str = "Medium",
        reporter: str = "ada",
        assignee: str | None = None,
        sprints: list[int] | None = None,
        story_points: float | None = None,
        labels: list[str] | None = None,
    ) -> str:
        """A new issue in `project`; returns its key."""
        with self.lock:
            now = self.tick(seconds)
            number = 1 + max(
                (issue.number for issue in self.issues.values() if issue.project == project),
                default=0,
            )
            issue = Issue(
                id=1 + max(self.issues, default=ISSUE_ID_BASE - 1),
                project=self.projects[project].key,
                number=number,
                summary=summary,
                issue_type=issue_type,
                status=status,
                priority=priority,
                reporter=self.user(reporter).account_id,
                assignee=self.user(assignee).account_id if assignee else None,
                created_ms=now,
                updated_ms=now,
                sprints=list(sprints or []),
                story_points=story_points,
                labels=list(labels or []),
            )
            self._resolve(issue, now)
            self._store(issue)
            return issue.key

    def update_issue(self, key: str, *, seconds: float = 60, **changes: Any) -> Issue:
        """Change an issue's fields (see CHANGEABLE; people by login) and its `updated`."""
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}; changeable: {sorted(CHANGEABLE)}")
        with self.lock:
            issue = self.issue(key)
            for name, value in changes.items():
                if name in ("assignee", "reporter") and value is not None:
                    value = self.user(value).account_id
                setattr(issue, name, value)
            issue.updated_ms = self.tick(seconds)
            self._resolve(issue, issue.updated_ms)
            issue.rendered = None
            return issue

    def _resolve(self, issue: Issue, now: int) -> None:
        if STATUSES[issue.status][1] == "done":
            issue.resolution = issue.resolution or "Done"
            issue.resolved_ms = issue.resolved_ms or now
        else:
            issue.resolution, issue.resolved_ms = None, None

    def delete_issue(self, key: str) -> None:
        with self.lock:
            issue = self.issue(key)
            del self.issues[issue.id]
            del self._by_key[key]
            self.version += 1

    def move_issue(self, key: str, project: str, *, seconds: float = 60) -> str:
        """Move an issue to another project: a new key, the same id; returns the new key."""
        with self.lock:
            issue = self.issue(key)
            del self._by_key[key]
            issue.number = 1 + max(
                (other.number for other in self.issues.values() if other.project == project),
                default=0,
            )
            issue.project = self.projects[project].key
            issue.updated_ms = self.tick(seconds)
            self._store(issue)
            return issue.key

    def add_sprint(
        self, board_id: int, name: str = "", *, state: str = "future", goal: str = ""
    ) -> Sprint:
        with self.lock:
            sprint_id = 1 + max(self.sprints, default=0)
            board = self.boards[board_id]
            sprint = Sprint(
                id=sprint_id,
                board_id=board_id,
                name=name or f"{board.project} Sprint {sprint_id}",
                state=state,
                sequence=sprint_id,
                goal=goal,
            )
            if state != "future":
                sprint.start_ms = self.now_ms
                sprint.end_ms = self.now_ms + 14 * 86_400_000
            self.sprints[sprint_id] = sprint
            self.version += 1
            return sprint

    def share_sprint(self, sprint_id: int, board_id: int) -> None:
        """Show a sprint of another board on `board_id` too (its filter takes in its issues)."""
        with self.lock:
            self.shared_sprints.setdefault(board_id, set()).add(sprint_id)


def _first(pair: tuple[tuple[int, ...], Issue]) -> tuple[int, ...]:
    return pair[0]


__all__ = ["CLOUD", "DATA_CENTER", "FakeJira"]
