"""What the admin's add and change forms post, so each test states only what it changes."""

from __future__ import annotations

from typing import Any

from tracking.models import Bug


def bug_form(bug: Bug | None = None, **overrides: Any) -> dict[str, Any]:
    """The bug form as posted: a new bug's defaults, or `bug`'s stored values."""
    created_at = bug.created_at if bug else None
    return {
        "title": bug.title if bug else "Checkout fails",
        "description": bug.description if bug else "",
        "project": (bug.project_id or "") if bug else "",
        "severity": bug.severity if bug else "high",
        "priority": bug.priority if bug else "medium",
        "status": bug.status if bug else "open",
        "assignee": "",
        "reporter": "",
        "sla_hours": (bug.sla_hours or "") if bug else "",
        "created_at_0": created_at.strftime("%Y-%m-%d") if created_at else "2026-11-02",
        "created_at_1": created_at.strftime("%H:%M:%S") if created_at else "10:00:00",
        "url": "",
        "assignee_identity": "",
        "reporter_identity": "",
        "hours-TOTAL_FORMS": "0",
        "hours-INITIAL_FORMS": "0",
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
        **overrides,
    }


def hours_form(**overrides) -> dict:
    return {
        "person": "",
        "bug": "",
        "project": "",
        "date": "2026-11-02",
        "hours": "2",
        "note": "",
        **overrides,
    }
