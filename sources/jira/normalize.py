"""Jira payloads → normalized rows. Pure: no database, no HTTP.

Issues come from the JQL search (Cloud's enhanced search or Data Center's
classic one: the same issue shape, except that Cloud's descriptions are
Atlassian Document Format and Data Center's are wiki text, and Data Center
may render sprints as `com.atlassian.greenhopper.service.sprint.Sprint@…[id=…]`
strings). Sprints come from the Agile API.

Records carry a `_hub` block the stream adds when it fetches them
(`issue_context`): which custom fields hold story points and sprints on this
site, the site's address for browse links, and the project the search was for.
A search result does not say which of its custom fields mean what.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ingestion.errors import RecordRejected
from ingestion.parsing import parse_time
from ingestion.streams import IdentityRef, Ref, Row
from tracking.choices import (
    BugSource,
    BugStatus,
    IssueType,
    Priority,
    Severity,
    Source,
    SprintState,
    WorkStatus,
)
from tracking.models import Bug, Issue, Project, Sprint

SOURCE = Source.JIRA
HUB_KEY = "_hub"

# Jira's status categories (statusCategory.key) → our work status.
_STATUS_CATEGORIES = {
    "new": WorkStatus.TODO,
    "indeterminate": WorkStatus.IN_PROGRESS,
    "done": WorkStatus.DONE,
}
_BUG_STATUSES = {"new": BugStatus.OPEN, "indeterminate": BugStatus.IN_PROGRESS}
# Resolutions that close a bug without fixing it.
_NOT_FIXED = frozenset(
    {"won't fix", "won't do", "wontfix", "declined", "duplicate", "cannot reproduce"}
    | {"not a bug", "incomplete", "obsolete"}
)
_ISSUE_TYPES = {
    "bug": IssueType.BUG,
    "story": IssueType.STORY,
    "user story": IssueType.STORY,
    "task": IssueType.TASK,
    "epic": IssueType.EPIC,
    "sub-task": IssueType.SUBTASK,
    "subtask": IssueType.SUBTASK,
}
# Jira's default priority scheme and the older one (Blocker … Trivial).
_SEVERITIES = {
    **dict.fromkeys(("highest", "blocker", "critical", "urgent"), Severity.CRITICAL),
    **dict.fromkeys(("high", "major"), Severity.HIGH),
    **dict.fromkeys(("medium", "normal"), Severity.MEDIUM),
    **dict.fromkeys(("low", "lowest", "minor", "trivial"), Severity.LOW),
}
_PRIORITIES = {
    **dict.fromkeys(("highest", "blocker", "critical", "urgent"), Priority.HIGHEST),
    **dict.fromkeys(("high", "major"), Priority.HIGH),
    **dict.fromkeys(("medium", "normal"), Priority.MEDIUM),
    **dict.fromkeys(("low", "minor"), Priority.LOW),
    **dict.fromkeys(("lowest", "trivial"), Priority.LOWEST),
}
_SPRINT_STATES = {state.value: state for state in SprintState}
# Data Center renders a sprint as "com.atlassian.greenhopper.service.sprint.Sprint@1f[id=42,…]".
_GREENHOPPER_SPRINT_ID = re.compile(r"[\[,]id=(\d+)[,\]]")
_ISSUE_NUMBER = re.compile(r"-(\d+)$")
# ADF nodes that end a line of text.
_ADF_BLOCKS = frozenset(
    {"paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule", "panel"}
    | {"tableRow", "mediaSingle", "taskItem", "decisionItem"}
)
STORY_POINTS_LIMIT = Decimal("99999.99")  # Issue.story_points: 7 digits, 2 decimals


def issue_context(
    *, site: str, project: str, story_points_fields: list[str], sprint_field: str
) -> dict[str, Any]:
    """What the fetch knew that the payload does not say.

    The stream adds `known_sprints` per issue: which of its sprints the hub had
    stored when it was fetched. It is not used to normalize (every sprint id
    becomes a link, and the harness links the ones that exist); it is there so
    that once a missing sprint is stored, the re-read issue no longer equals its
    kept raw payload and is loaded again, this time linked.
    """
    return {
        "site": site.rstrip("/"),
        "project": project,
        "story_points_fields": list(story_points_fields),
        "sprint_field": sprint_field,
    }


def with_context(record: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    return {**record, HUB_KEY: context}


def _hub(record: dict[str, Any]) -> dict[str, Any]:
    context = record.get(HUB_KEY)
    if not isinstance(context, dict) or "site" not in context:
        raise RecordRejected("the record has no site context (_hub.site)")
    return context


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    fields = record.get("fields")
    if not isinstance(fields, dict):
        raise RecordRejected("fields is missing")
    return fields


def _text(value: Any, name: str, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise RecordRejected(f"{name} is missing")
        return ""
    if not isinstance(value, str | int):
        raise RecordRejected(f"{name} must be text, not {type(value).__name__}")
    return str(value)


def _name_of(value: Any, name: str) -> str:
    """The `name` of a nested object (status, priority, issue type), "" when absent."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise RecordRejected(f"{name} must be an object, not {value!r}")
    return _text(value.get("name"), f"{name}.name")


# --- people ---------------------------------------------------------------------------------


def user_ref(user: Any, name: str = "user") -> IdentityRef | None:
    """A Jira account → its Identity: Cloud's accountId, or Data Center's user key
    (the login, `name`, can be renamed; the key cannot)."""
    if user is None:
        return None
    if not isinstance(user, dict):
        raise RecordRejected(f"{name} must be an object, not {user!r}")
    external_id = user.get("accountId") or user.get("key") or user.get("name")
    if not isinstance(external_id, str) or not external_id:
        raise RecordRejected(f"{name} has neither accountId (Cloud) nor key (Data Center)")
    return _identity(
        external_id,
        str(user.get("name") or ""),
        str(user.get("displayName") or ""),
        # Cloud shows an email only where the person's profile allows it.
        str(user.get("emailAddress") or ""),
        user.get("accountType") == "app",
    )


# A page names the same few people, projects and sprints over and over: the references
# are immutable values, made once.
@lru_cache(maxsize=4096)
def _identity(
    external_id: str, username: str, display_name: str, email: str, is_bot: bool
) -> IdentityRef:
    return IdentityRef(SOURCE, external_id, username, display_name, email, is_bot)


@lru_cache(maxsize=4096)
def _sprint_ref(sprint_id: str) -> Ref:
    return Ref(Sprint, SOURCE, sprint_id, required=False)


# --- issues ---------------------------------------------------------------------------------


def issue_key(record: dict[str, Any]) -> str:
    """The issue id: stable when the issue is moved to another project (its key is not)."""
    return _text(record.get("id"), "id", required=True)


def issue_time(record: dict[str, Any]) -> dt.datetime | None:
    return parse_time(_fields(record).get("updated"), "fields.updated")


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (Cloud's rich text), or the text
    itself when it is already a string (Data Center's wiki markup)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    parts: list[str] = []
    _adf_walk(node, parts)
    return "".join(parts)


def _adf_walk(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _adf_walk(child, parts)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "text":
        parts.append(str(node.get("text") or ""))
        return
    if kind == "hardBreak":
        parts.append("\n")
        return
    if kind in ("mention", "emoji", "status", "inlineCard"):
        attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
        parts.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
        return
    content = node.get("content")
    if content:
        _adf_walk(content, parts)
    if kind in _ADF_BLOCKS:
        parts.append("\n")


def _description(value: Any) -> str:
    if value is not None and not isinstance(value, str | dict):
        raise RecordRejected(f"fields.description must be text or a document, not {value!r}")
    return adf_text(value).strip()


def _issue_type(issue_type: Any) -> tuple[IssueType, str]:
    name = _name_of(issue_type, "fields.issuetype")
    if not name:
        raise RecordRejected("fields.issuetype is missing")
    if isinstance(issue_type, dict) and issue_type.get("subtask"):
        return IssueType.SUBTASK, name
    return _ISSUE_TYPES.get(name.strip().lower(), IssueType.OTHER), name


def _status(status: Any) -> tuple[str, str]:
    """(status category key, status name)."""
    name = _name_of(status, "fields.status")
    if not name:
        raise RecordRejected("fields.status is missing")
    category = status.get("statusCategory")
    key = category.get("key") if isinstance(category, dict) else None
    return (str(key) if key else ""), name


def story_points(fields: dict[str, Any], field_ids: list[str]) -> Decimal | None:
    """The first story points field with a value (a site may have both Cloud's
    "Story point estimate" and a company-managed "Story Points")."""
    for field_id in field_ids:
        value = fields.get(field_id)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise RecordRejected(f"{field_id} (story points) must be a number, not {value!r}")
        try:
            points = Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise RecordRejected(
                f"{field_id} (story points) must be a number, not {value!r}"
            ) from None
        if not points.is_finite() or abs(points) > STORY_POINTS_LIMIT:
            raise RecordRejected(f"{field_id} (story points) {value!r} is out of range")
        return points
    return None


def sprint_ids(value: Any, field_id: str = "sprint") -> list[str]:
    """Ids of the sprints in a sprint field: Cloud's objects, or Data Center's strings."""
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    ids: list[str] = []
    for sprint in value:
        if isinstance(sprint, dict) and isinstance(sprint.get("id"), int | str):
            ids.append(str(sprint["id"]))
        elif isinstance(sprint, str) and (match := _GREENHOPPER_SPRINT_ID.search(sprint)):
            ids.append(match.group(1))
        else:
            raise RecordRejected(f"{field_id} holds a sprint without an id: {sprint!r}")
    return list(dict.fromkeys(ids))


def _names(items: Any, name: str) -> list[str]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise RecordRejected(f"{name} must be a list, not {items!r}")
    names = []
    for item in items:
        value = item.get("name") if isinstance(item, dict) else item
        if isinstance(value, str) and value:
            names.append(value)
    return names


@lru_cache(maxsize=1024)
def project_ref(key: str) -> Ref:
    """The Project whose Jira key this is, if anyone entered one."""
    return Ref(Project, "", key, by="jira_project_key", required=False)


def _number(key: str) -> int | None:
    match = _ISSUE_NUMBER.search(key)
    return int(match.group(1)) if match else None


def bug_status(category: str, status: str, resolution: str) -> BugStatus:
    if category in _BUG_STATUSES:
        return _BUG_STATUSES[category]
    if category != "done":
        return BugStatus.OPEN
    if resolution.strip().lower() in _NOT_FIXED:
        return BugStatus.WONT_FIX
    return BugStatus.CLOSED if status.strip().lower() == "closed" else BugStatus.RESOLVED


def severity_from_priority(priority: str) -> Severity:
    return _SEVERITIES.get(priority.strip().lower(), Severity.MEDIUM)


def bug_priority(priority: str) -> Priority:
    return _PRIORITIES.get(priority.strip().lower(), Priority.MEDIUM)


def issue_rows(record: dict[str, Any]) -> list[Row]:
    """An issue, and a Bug too when its type is Bug."""
    context = _hub(record)
    fields = _fields(record)
    external_id = issue_key(record)
    key = _text(record.get("key"), "key", required=True)
    project = fields.get("project")
    project_key = (project.get("key") if isinstance(project, dict) else None) or context.get(
        "project", ""
    )
    if not project_key:
        raise RecordRejected("fields.project.key is missing")
    issue_type, type_name = _issue_type(fields.get("issuetype"))
    category, status_name = _status(fields.get("status"))
    priority = _name_of(fields.get("priority"), "fields.priority")
    resolution = _name_of(fields.get("resolution"), "fields.resolution")
    title = _text(fields.get("summary"), "fields.summary", required=True)
    description = _description(fields.get("description"))
    assignee = user_ref(fields.get("assignee"), "fields.assignee")
    reporter = user_ref(fields.get("reporter"), "fields.reporter")
    created_at = parse_time(fields.get("created"), "fields.created")
    resolved_at = parse_time(fields.get("resolutiondate"), "fields.resolutiondate", required=False)
    sprint_field = str(context.get("sprint_field") or "")
    sprints = sprint_ids(fields.get(sprint_field), sprint_field) if sprint_field else []
    url = f"{context['site']}/browse/{key}"
    rows = [
        Row(
            Issue,
            {
                "external_id": external_id,
                "key": key,
                "number": _number(key),
                "project": project_ref(str(project_key)),
                "upstream_project": str(project_key),
                "title": title,
                "description": description,
                "issue_type": issue_type,
                "original_type": type_name,
                "status": _STATUS_CATEGORIES.get(category, WorkStatus.TODO),
                "original_status": status_name,
                "priority": priority,
                "story_points": story_points(fields, list(context.get("story_points_fields", []))),
                "assignee": assignee,
                "reporter": reporter,
                "sprints": [_sprint_ref(sprint_id) for sprint_id in sprints],
                "labels": _names(fields.get("labels"), "fields.labels"),
                "components": _names(fields.get("components"), "fields.components"),
                "url": url,
                "created_at": created_at,
                "updated_at": issue_time(record),
                "resolved_at": resolved_at,
                # Seen in a search: not deleted (reconciliation marks the ones gone upstream).
                "deleted_at": None,
            },
        )
    ]
    if issue_type == IssueType.BUG:
        status = bug_status(category, status_name, resolution)
        rows.append(
            Row(
                Bug,
                {
                    "external_id": external_id,
                    "source": BugSource.JIRA,
                    "title": title,
                    "description": description,
                    "severity": severity_from_priority(priority),
                    "priority": bug_priority(priority),
                    "status": status,
                    "original_status": status_name,
                    "project": project_ref(str(project_key)),
                    "assignee_identity": assignee,
                    "reporter_identity": reporter,
                    "url": url,
                    "created_at": created_at,
                    "resolved_at": resolved_at if category == "done" else None,
                },
            )
        )
    return rows


# --- sprints --------------------------------------------------------------------------------


def sprint_key(record: dict[str, Any]) -> str:
    return _text(record.get("id"), "id", required=True)


def sprint_rows(record: dict[str, Any]) -> list[Row]:
    """A sprint of the Agile API. A sprint shown on several boards is one row, kept on
    its origin board, so syncing any of those boards leaves it unchanged."""
    state = _text(record.get("state"), "state", required=True)
    normalized_state = _SPRINT_STATES.get(state.lower())
    if normalized_state is None:
        raise RecordRejected(f"state {state!r} is not one of future, active, closed")
    origin = record.get("originBoardId")
    if origin is not None and (isinstance(origin, bool) or not isinstance(origin, int)):
        raise RecordRejected(f"originBoardId must be an integer, not {origin!r}")
    listed_on = _hub(record).get("board")
    return [
        Row(
            Sprint,
            {
                "external_id": sprint_key(record),
                "name": _text(record.get("name"), "name", required=True),
                "state": normalized_state,
                "original_state": state,
                "goal": _text(record.get("goal"), "goal"),
                "board_id": origin if origin is not None else listed_on,
                "origin_board_id": origin,
                "start_at": parse_time(record.get("startDate"), "startDate", required=False),
                "end_at": parse_time(record.get("endDate"), "endDate", required=False),
                "complete_at": parse_time(
                    record.get("completeDate"), "completeDate", required=False
                ),
            },
        )
    ]


def sprint_context(*, site: str, board: int) -> dict[str, Any]:
    return {"site": site.rstrip("/"), "board": board}
