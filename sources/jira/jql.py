"""The JQL of the issue searches. Pure functions, no HTTP.

JQL dates have minute resolution and are read in the searching user's time
zone (their profile's, which `/myself` reports), not in UTC. So the incremental
lower bound is the checkpoint minus the stream's overlap, written in that time
zone and rounded down to the minute: an issue updated later in the same minute
as the checkpoint is read again, never skipped.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable

# Jira's default project key pattern; sites may allow more, never quotes or spaces.
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
ORDER = "ORDER BY updated ASC, key ASC"
DATE_FORMAT = "%Y-%m-%d %H:%M"
# Used when the user's time zone is unknown: no offset on Earth is larger, so a
# bound this much earlier in UTC is never after the checkpoint, whatever Jira assumes.
LARGEST_UTC_OFFSET = dt.timedelta(hours=14)


def literal(value: str) -> str:
    """A JQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def known_time_zone(name: str) -> bool:
    if not name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _readings(wall: dt.datetime) -> list[dt.datetime]:
    """The instants a wall time names: two in the hour a clock is set back, else one."""
    return sorted({wall.replace(fold=fold).astimezone(dt.UTC) for fold in (0, 1)})


def local_minute(moment: dt.datetime, time_zone: str) -> str:
    """`moment` as a JQL date in `time_zone`, rounded down to the minute, such that
    Jira's reading of it is never later than `moment`.

    In the hour a clock is set back, a wall time names two instants and Jira may
    read the later one: the bound then steps back until even that one is not
    after `moment`.
    """
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    if known_time_zone(time_zone):
        zone = zoneinfo.ZoneInfo(time_zone)
        bound = moment
        for _ in range(4):
            wall = bound.astimezone(zone).replace(second=0, microsecond=0)
            readings = _readings(wall)
            if readings[-1] <= moment:
                return wall.strftime(DATE_FORMAT)
            bound -= readings[-1] - readings[0]
    return (moment - LARGEST_UTC_OFFSET).astimezone(dt.UTC).strftime(DATE_FORMAT)


def exact_minute(moment: dt.datetime, time_zone: str) -> str | None:
    """The minute of `moment` in `time_zone` as a JQL date, or None when Jira could read
    that wall time as another instant (the hour a clock is set back, an unknown zone)."""
    if not known_time_zone(time_zone):
        return None
    wall = moment.astimezone(zoneinfo.ZoneInfo(time_zone)).replace(second=0, microsecond=0)
    return wall.strftime(DATE_FORMAT) if len(_readings(wall)) == 1 else None


def check_project_key(key: str) -> str:
    if not PROJECT_KEY.match(key):
        raise ValueError(
            f"{key!r} is not a Jira project key (upper-case letters, digits and _, "
            "starting with a letter, e.g. PROJ)"
        )
    return key


def issues_filter(
    project: str,
    since: dt.datetime | None,
    time_zone: str,
    sprint_ids: Iterable[str] = (),
) -> str:
    """The issues of `project` changed since `since` (all of them when None), and those
    in `sprint_ids` whatever their change time (sprints stored since the last run:
    their issues may have been read before the sprint was, and must be linked now)."""
    clauses = [f"project = {literal(check_project_key(project))}"]
    if since is not None:
        bound = f"updated >= {literal(local_minute(since, time_zone))}"
        ids = sorted({int(sprint_id) for sprint_id in sprint_ids})
        if ids:
            bound = f"({bound} OR sprint in ({', '.join(str(i) for i in ids)}))"
        clauses.append(bound)
    return " AND ".join(clauses)


def ordered(jql_filter: str, anchor: str | None = None) -> str:
    """The search: the filter, from the minute `anchor` on if given, oldest change first."""
    if anchor is not None:
        jql_filter = f"{jql_filter} AND updated >= {literal(anchor)}"
    return f"{jql_filter} {ORDER}"
