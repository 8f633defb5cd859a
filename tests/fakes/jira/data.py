"""The fake Jira's data, in Jira's REST shapes, deterministic from a seed.

Cloud (REST v3) and Data Center (REST v2) differ where the real ones do:
descriptions are Atlassian Document Format on Cloud and wiki text on Data
Center; people are `accountId` on Cloud and `name` + `key` on Data Center;
the sprint field holds objects on Cloud and `…greenhopper…Sprint@…[id=…]`
strings on Data Center; the story points field is Cloud's "Story point
estimate" (customfield_10016) or Data Center's "Story Points" (customfield_10106).

Times are epoch milliseconds inside, rendered in the site's time zone as Jira
renders them ("2024-01-05T14:30:12.345-0800"). URLs inside records use the
`SITE` placeholder, replaced by the address the client used when a response
is sent.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

SITE = "https://jira.fake"
CLOUD = "cloud"
DATA_CENTER = "data_center"
DEPLOYMENTS = (CLOUD, DATA_CENTER)
EPOCH_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
GENERATED_UNTIL_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
MINUTE_MS = 60_000
DAY_MS = 86_400_000
ISSUE_ID_BASE = 10_000
PROJECT_ID_BASE = 10_000

PROJECT_KEYS = ("ALPHA", "BETA", "GAMMA", "DELTA", "OMEGA", "SIGMA", "KAPPA", "THETA")
PEOPLE = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Ken Thompson",
    "Margaret Hamilton",
    "Radia Perlman",
)
# name → (id, status category key)
STATUSES = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10001", "indeterminate"),
    "Done": ("10002", "done"),
    "Closed": ("6", "done"),
}
STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {
        "id": 4,
        "key": "indeterminate",
        "colorName": "yellow",
        "name": "In Progress",
    },
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
# name → (id, subtask, hierarchy level)
ISSUE_TYPES = {
    "Epic": ("10000", False, 1),
    "Story": ("10001", False, 0),
    "Task": ("10002", False, 0),
    "Sub-task": ("10003", True, -1),
    "Bug": ("10004", False, 0),
}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
RESOLUTIONS = {"Done": "10000", "Won't Do": "10001", "Duplicate": "10002"}
COMPONENTS = ("Backend", "Frontend", "API", "Mobile")
LABELS = ("backend", "frontend", "customer", "tech-debt", "security")
VERBS = ("Fix", "Add", "Refactor", "Remove", "Update", "Document", "Speed up", "Test")
NOUNS = ("login flow", "export", "cache", "search", "billing page", "sync job", "API client")


@dataclass
class User:
    account_id: str
    key: str
    name: str
    display_name: str
    email: str
    email_visible: bool = True
    is_app: bool = False


@dataclass
class Project:
    id: int
    key: str
    name: str


@dataclass
class Board:
    id: int
    name: str
    project: str
    type: str = "scrum"


@dataclass
class Sprint:
    id: int
    board_id: int
    name: str
    state: str  # future, active, closed
    sequence: int
    start_ms: int | None = None
    end_ms: int | None = None
    complete_ms: int | None = None
    goal: str = ""


@dataclass
class Issue:
    id: int
    project: str
    number: int
    summary: str
    issue_type: str
    status: str
    priority: str
    reporter: str
    created_ms: int
    updated_ms: int
    assignee: str | None = None
    description: str = ""
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    story_points: float | None = None
    sprints: list[int] = field(default_factory=list)
    resolution: str | None = None
    resolved_ms: int | None = None
    # The rendered fields, kept until the issue changes.
    rendered: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.number}"


@dataclass(frozen=True)
class FieldIds:
    story_points: str
    story_points_name: str
    sprint: str


def field_ids(deployment: str, story_points: str = "", story_points_name: str = "") -> FieldIds:
    if deployment == CLOUD:
        return FieldIds(
            story_points or "customfield_10016",
            story_points_name or "Story point estimate",
            "customfield_10020",
        )
    return FieldIds(
        story_points or "customfield_10106",
        story_points_name or "Story Points",
        "customfield_10104",
    )


# --- times ---------------------------------------------------------------------------------------


def local(ms: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, zone)


def jira_time(ms: int | None, zone: zoneinfo.ZoneInfo) -> str | None:
    """Jira's issue times: "2024-01-05T14:30:12.345-0800"."""
    if ms is None:
        return None
    moment = local(ms, zone)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}{moment:%z}"


def agile_time(ms: int | None, zone: zoneinfo.ZoneInfo) -> str | None:
    """The Agile API's times: "2024-01-05T14:30:12.345-08:00"."""
    if ms is None:
        return None
    moment = local(ms, zone)
    offset = f"{moment:%z}"
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}{offset[:3]}:{offset[3:]}"


# --- generation -----------------------------------------------------------------------------------


def user_pool(deployment: str) -> list[User]:
    users = []
    for index, name in enumerate(PEOPLE):
        login = name.split()[0].lower()
        users.append(
            User(
                account_id=f"5b10ac8d82e05b22cc7d4e{index:02d}",
                key=f"JIRAUSER{10100 + index}",
                name=login,
                display_name=name,
                email=f"{login}@example.com",
                # Cloud shows an email only where the profile allows it.
                email_visible=deployment == DATA_CENTER or index % 3 != 2,
            )
        )
    users.append(
        User(
            account_id="557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
            key="JIRAUSER10099",
            name="automation",
            display_name="Automation for Jira",
            email="",
            email_visible=False,
            is_app=True,
        )
    )
    return users


def generate_sprints(board: Board, count: int, first_id: int, board_index: int) -> list[Sprint]:
    """Two-week sprints back to back: closed ones, then one active, then one future."""
    sprints = []
    end_of_history = GENERATED_UNTIL_MS - 7 * DAY_MS
    for index in range(count):
        state = "closed"
        if index == count - 1:
            state = "future"
        elif index == count - 2:
            state = "active"
        start = end_of_history - (count - 1 - index) * 14 * DAY_MS + board_index * 3_600_000
        sprint = Sprint(
            id=first_id + index,
            board_id=board.id,
            name=f"{board.project} Sprint {index + 1}",
            state=state,
            sequence=first_id + index,
            goal="" if index % 3 else f"Ship the {NOUNS[index % len(NOUNS)]}",
        )
        if state != "future":
            sprint.start_ms, sprint.end_ms = start, start + 14 * DAY_MS
        if state == "closed":
            sprint.complete_ms = start + 14 * DAY_MS + 2 * 3_600_000
        sprints.append(sprint)
    return sprints


def generate_issues(
    project: Project,
    count: int,
    first_id: int,
    sprints: list[Sprint],
    users: list[User],
    rng: random.Random,
) -> list[Issue]:
    issues = []
    people = [user.account_id for user in users if not user.is_app]
    dated = [sprint for sprint in sprints if sprint.start_ms is not None]
    span = GENERATED_UNTIL_MS - EPOCH_MS
    for number in range(1, count + 1):
        created = EPOCH_MS + int(rng.random() * span * 0.95)
        updated = min(created + int(rng.random() * 30 * DAY_MS), GENERATED_UNTIL_MS - 1000)
        issue_type = rng.choices(list(ISSUE_TYPES), weights=(5, 40, 25, 10, 20))[0]
        status = rng.choices(list(STATUSES), weights=(20, 20, 5, 50, 5))[0]
        issue = Issue(
            id=first_id + number - 1,
            project=project.key,
            number=number,
            summary=f"{rng.choice(VERBS)} the {rng.choice(NOUNS)} ({project.key}-{number})",
            issue_type=issue_type,
            status=status,
            priority=rng.choices(list(PRIORITIES), weights=(5, 20, 50, 20, 5))[0],
            reporter=rng.choice(people),
            assignee=rng.choice(people) if rng.random() < 0.8 else None,
            created_ms=created,
            updated_ms=updated,
            description=f"Steps to reproduce and notes for {project.key}-{number}.",
            labels=rng.sample(LABELS, rng.randint(0, 2)),
            components=rng.sample(COMPONENTS, rng.randint(0, 1)),
        )
        if issue_type != "Epic":
            issue.story_points = rng.choice((1.0, 2.0, 3.0, 5.0, 8.0, 13.0, None))
            if dated and rng.random() < 0.85:
                chosen = rng.randrange(len(dated))
                issue.sprints = [dated[chosen].id]
                if chosen + 1 < len(dated) and rng.random() < 0.1:
                    issue.sprints.append(dated[chosen + 1].id)  # carried over
        if STATUSES[status][1] == "done":
            issue.resolution = rng.choices(list(RESOLUTIONS), weights=(90, 6, 4))[0]
            issue.resolved_ms = updated
        issues.append(issue)
    return issues


# --- rendering ------------------------------------------------------------------------------------


def avatar_urls(identifier: str) -> dict[str, str]:
    base = f"https://avatar-management.fake/avatars/{identifier}"
    return {size: f"{base}/{size}.png" for size in ("48x48", "24x24", "16x16", "32x32")}


def render_user(user: User | None, deployment: str, time_zone: str) -> dict[str, Any] | None:
    if user is None:
        return None
    if deployment == CLOUD:
        rendered: dict[str, Any] = {
            "self": f"{SITE}/rest/api/3/user?accountId={user.account_id}",
            "accountId": user.account_id,
        }
        if user.email_visible:
            rendered["emailAddress"] = user.email
        rendered.update(
            {
                "avatarUrls": avatar_urls(user.account_id),
                "displayName": user.display_name,
                "active": True,
                "timeZone": time_zone,
                "accountType": "app" if user.is_app else "atlassian",
            }
        )
        return rendered
    return {
        "self": f"{SITE}/rest/api/2/user?username={user.name}",
        "name": user.name,
        "key": user.key,
        "emailAddress": user.email,
        "avatarUrls": avatar_urls(user.key),
        "displayName": user.display_name,
        "active": True,
        "timeZone": time_zone,
    }


def render_description(text: str, deployment: str) -> Any:
    if not text:
        return None
    if deployment == DATA_CENTER:
        return text
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def render_project(project: Project, api: str) -> dict[str, Any]:
    return {
        "self": f"{SITE}/rest/api/{api}/project/{project.id}",
        "id": str(project.id),
        "key": project.key,
        "name": project.name,
        "projectTypeKey": "software",
        "simplified": False,
        "avatarUrls": avatar_urls(f"project-{project.id}"),
    }


def render_sprint_in_issue(sprint: Sprint, deployment: str, zone: zoneinfo.ZoneInfo) -> Any:
    if deployment == CLOUD:
        value: dict[str, Any] = {
            "id": sprint.id,
            "name": sprint.name,
            "state": sprint.state,
            "boardId": sprint.board_id,
            "goal": sprint.goal,
        }
        for name, ms in (
            ("startDate", sprint.start_ms),
            ("endDate", sprint.end_ms),
            ("completeDate", sprint.complete_ms),
        ):
            if ms is not None:
                value[name] = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                )
        return value
    dates = {
        name: agile_time(ms, zone) or "<null>"
        for name, ms in (
            ("startDate", sprint.start_ms),
            ("endDate", sprint.end_ms),
            ("completeDate", sprint.complete_ms),
        )
    }
    return (
        f"com.atlassian.greenhopper.service.sprint.Sprint@{sprint.id * 7919:x}"
        f"[id={sprint.id},rapidViewId={sprint.board_id},state={sprint.state.upper()},"
        f"name={sprint.name},startDate={dates['startDate']},endDate={dates['endDate']},"
        f"completeDate={dates['completeDate']},sequence={sprint.sequence},goal={sprint.goal}]"
    )


def render_agile_sprint(sprint: Sprint, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """A sprint as GET /rest/agile/1.0/board/{id}/sprint lists it."""
    value: dict[str, Any] = {
        "id": sprint.id,
        "self": f"{SITE}/rest/agile/1.0/sprint/{sprint.id}",
        "state": sprint.state,
        "name": sprint.name,
    }
    if sprint.start_ms is not None:
        value["startDate"] = agile_time(sprint.start_ms, zone)
        value["endDate"] = agile_time(sprint.end_ms, zone)
        value["createdDate"] = agile_time(sprint.start_ms - DAY_MS, zone)
    if sprint.complete_ms is not None:
        value["completeDate"] = agile_time(sprint.complete_ms, zone)
    value["originBoardId"] = sprint.board_id
    value["goal"] = sprint.goal
    return value


def field_list(ids: FieldIds) -> list[dict[str, Any]]:
    """GET /rest/api/{2,3}/field: the system fields the hub reads and a few custom ones."""

    def system(
        field_id: str, name: str, clauses: list[str], schema: dict[str, Any] | None
    ) -> dict[str, Any]:
        found = {
            "id": field_id,
            "key": field_id,
            "name": name,
            "custom": False,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": clauses,
        }
        if schema is not None:
            found["schema"] = schema
        return found

    def custom(field_id: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        number = int(field_id.rsplit("_", 1)[1])
        return {
            "id": field_id,
            "key": field_id,
            "name": name,
            "untranslatedName": name,
            "custom": True,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": [f"cf[{number}]", name],
            "schema": {**schema, "customId": number},
        }

    fields = [
        system("issuekey", "Key", ["id", "issue", "issuekey", "key"], None),
        system("summary", "Summary", ["summary"], {"type": "string", "system": "summary"}),
        system("description", "Description", ["description"], {"type": "string"}),
        system("issuetype", "Issue Type", ["issuetype", "type"], {"type": "issuetype"}),
        system("status", "Status", ["status"], {"type": "status", "system": "status"}),
        system("priority", "Priority", ["priority"], {"type": "priority"}),
        system("resolution", "Resolution", ["resolution"], {"type": "resolution"}),
        system("assignee", "Assignee", ["assignee"], {"type": "user", "system": "assignee"}),
        system("reporter", "Reporter", ["reporter"], {"type": "user", "system": "reporter"}),
        system("labels", "Labels", ["labels"], {"type": "array", "items": "string"}),
        system("components", "Component/s", ["component"], {"type": "array"}),
        system("created", "Created", ["created", "createdDate"], {"type": "datetime"}),
        system("updated", "Updated", ["updated", "updatedDate"], {"type": "datetime"}),
        system("resolutiondate", "Resolved", ["resolutiondate", "resolved"], {"type": "datetime"}),
        system("project", "Project", ["project"], {"type": "project", "system": "project"}),
        custom(
            "customfield_10014",
            "Epic Link",
            {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"},
        ),
        custom(
            ids.sprint,
            "Sprint",
            {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint"},
        ),
        custom(
            "customfield_10031",
            "Team",
            {
                "type": "team",
                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team",
            },
        ),
    ]
    points_type = (
        "com.pyxis.greenhopper.jira:jsw-story-points"
        if ids.story_points_name.lower() == "story point estimate"
        else "com.atlassian.jira.plugin.system.customfieldtypes:float"
    )
    fields.append(
        custom(ids.story_points, ids.story_points_name, {"type": "number", "custom": points_type})
    )
    return fields
