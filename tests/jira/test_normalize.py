"""normalize: Jira payloads (fixtures/jira, in Atlassian's documented shapes) → rows, pure."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.errors import RecordRejected
from ingestion.streams import IdentityRef, Ref
from sources.jira import normalize
from tracking.choices import BugStatus, IssueType, Priority, Severity, SprintState, WorkStatus
from tracking.models import Bug, Issue, Sprint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jira"
CLOUD_SITE = "https://your-domain.atlassian.net"
DATA_CENTER_SITE = "https://jira.example.com"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def searched_issue(
    fixture: str, index: int, site: str, project: str, points_field: str, sprint_field: str
) -> dict:
    """An issue of a search fixture with the context its stream gives it."""
    issue = payload(fixture)["issues"][index]
    context = normalize.issue_context(
        site=site, project=project, story_points_fields=[points_field], sprint_field=sprint_field
    )
    return normalize.with_context(issue, context)


def cloud_issue(index: int = 0) -> dict:
    return searched_issue(
        "cloud_search_jql.json", index, CLOUD_SITE, "ED", "customfield_10016", "customfield_10020"
    )


def data_center_issue(index: int = 0) -> dict:
    return searched_issue(
        "data_center_search.json",
        index,
        DATA_CENTER_SITE,
        "OPS",
        "customfield_10106",
        "customfield_10104",
    )


def issue_fields(record: dict) -> dict:
    rows = normalize.issue_rows(record)
    assert rows[0].model is Issue
    return rows[0].fields


def test_a_cloud_issue_keeps_key_type_status_priority_labels_and_times():
    fields = issue_fields(cloud_issue())

    assert fields["external_id"] == "10068"
    assert fields["key"] == "ED-24"
    assert fields["number"] == 24
    assert fields["upstream_project"] == "ED"
    assert fields["title"] == "Checkout fails when the cart holds a gift card"
    assert (fields["issue_type"], fields["original_type"]) == (IssueType.BUG, "Bug")
    assert (fields["status"], fields["original_status"]) == (WorkStatus.DONE, "Done")
    assert fields["priority"] == "High"
    assert fields["labels"] == ["checkout", "customer"]
    assert fields["components"] == ["Payments"]
    assert fields["url"] == f"{CLOUD_SITE}/browse/ED-24"
    assert fields["created_at"] == dt.datetime(2024, 3, 3, 22, 15, 2, 345000, tzinfo=dt.UTC)
    assert fields["updated_at"] == dt.datetime(2024, 3, 7, 5, 40, 59, 1000, tzinfo=dt.UTC)
    assert fields["resolved_at"] == dt.datetime(2024, 3, 7, 5, 40, 58, 870000, tzinfo=dt.UTC)
    assert fields["deleted_at"] is None


def test_a_cloud_description_in_document_format_becomes_plain_text():
    fields = issue_fields(cloud_issue())

    assert fields["description"] == "Steps: add a gift card, pay.\nSeen by @Mia Krystof"


def test_people_are_identities_by_account_id_with_the_email_when_visible():
    fields = issue_fields(cloud_issue())

    assert fields["assignee"] == IdentityRef(
        source="jira",
        external_id="5b10a2844c20165700ede21g",
        display_name="Mia Krystof",
        email="mia@example.com",
    )
    assert fields["reporter"].external_id == "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"
    assert fields["reporter"].is_bot  # accountType "app"
    assert issue_fields(cloud_issue(1))["assignee"].email == ""  # the profile hides it


def test_data_center_people_are_identities_by_user_key_with_their_login():
    fields = issue_fields(data_center_issue())

    assert fields["assignee"].external_id == "JIRAUSER10100"
    assert fields["assignee"].username == "jsmith"
    assert fields["assignee"].email == "jsmith@example.com"


def test_story_points_come_from_the_sites_story_points_field():
    assert issue_fields(cloud_issue())["story_points"] == Decimal("3.00")
    assert issue_fields(cloud_issue(1))["story_points"] == Decimal("5.50")
    assert issue_fields(data_center_issue())["story_points"] == Decimal("8.00")
    assert issue_fields(data_center_issue(1))["story_points"] is None


def test_the_first_story_points_field_with_a_value_wins():
    record = cloud_issue()
    record["fields"]["customfield_10028"] = 13
    record["_hub"]["story_points_fields"] = ["customfield_10028", "customfield_10016"]
    assert issue_fields(record)["story_points"] == Decimal("13.00")
    record["fields"]["customfield_10028"] = None
    assert issue_fields(record)["story_points"] == Decimal("3.00")


def test_story_points_that_are_not_a_number_reject_the_issue():
    record = cloud_issue()
    record["fields"]["customfield_10016"] = "lots"

    with pytest.raises(RecordRejected, match=r"customfield_10016 .story points. must be a number"):
        normalize.issue_rows(record)


def test_story_points_too_large_for_the_column_reject_the_issue():
    record = cloud_issue()
    record["fields"]["customfield_10016"] = 1e9

    with pytest.raises(RecordRejected, match="out of range"):
        normalize.issue_rows(record)


def test_sprint_membership_is_a_link_per_sprint_of_cloud_objects():
    sprints = issue_fields(cloud_issue())["sprints"]

    assert sprints == [
        Ref(Sprint, "jira", "37", required=False),
        Ref(Sprint, "jira", "38", required=False),
    ]
    assert issue_fields(cloud_issue(1))["sprints"] == []


def test_sprint_membership_is_read_from_data_center_greenhopper_strings():
    sprints = issue_fields(data_center_issue())["sprints"]

    assert [ref.external_id for ref in sprints] == ["47", "48"]


def test_a_sprint_value_without_an_id_rejects_the_issue():
    record = data_center_issue()
    record["fields"]["customfield_10104"] = ["Sprint 12"]

    with pytest.raises(RecordRejected, match="customfield_10104 holds a sprint without an id"):
        normalize.issue_rows(record)


def test_the_project_is_linked_by_its_jira_key_when_someone_entered_it():
    project = issue_fields(cloud_issue())["project"]

    assert project.by == "jira_project_key"
    assert project.external_id == "ED"
    assert not project.required


def test_a_data_center_wiki_description_is_kept_as_written():
    fields = issue_fields(data_center_issue())

    assert fields["description"].startswith("h3. Steps\n* run the nightly export")


def test_a_subtask_is_a_subtask_whatever_its_name():
    fields = issue_fields(data_center_issue(1))

    assert (fields["issue_type"], fields["original_type"]) == (IssueType.SUBTASK, "Sub-task")
    assert fields["assignee"] is None


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("new", WorkStatus.TODO),
        ("indeterminate", WorkStatus.IN_PROGRESS),
        ("done", WorkStatus.DONE),
    ],
)
def test_the_status_category_decides_the_work_status(category, expected):
    record = cloud_issue(1)
    record["fields"]["status"]["statusCategory"]["key"] = category

    assert issue_fields(record)["status"] == expected


def test_an_issue_of_type_bug_also_gives_a_bug_with_severity_from_its_priority():
    rows = normalize.issue_rows(cloud_issue())

    assert [row.model for row in rows] == [Issue, Bug]
    bug = rows[1].fields
    assert bug["external_id"] == "10068"
    assert bug["source"] == "jira"
    assert bug["title"] == "Checkout fails when the cart holds a gift card"
    assert bug["severity"] == Severity.HIGH
    assert bug["priority"] == Priority.HIGH
    assert bug["url"] == f"{CLOUD_SITE}/browse/ED-24"


def test_a_bug_resolved_as_wont_do_is_wont_fix():
    bug = normalize.issue_rows(cloud_issue())[1].fields

    assert bug["status"] == BugStatus.WONT_FIX
    assert bug["original_status"] == "Done"
    assert bug["resolved_at"] is not None


def test_an_open_data_center_blocker_is_a_critical_open_bug():
    bug = normalize.issue_rows(data_center_issue())[1].fields

    assert bug["severity"] == Severity.CRITICAL
    assert bug["priority"] == Priority.HIGHEST
    assert bug["status"] == BugStatus.OPEN
    assert bug["resolved_at"] is None


def test_issues_of_other_types_give_no_bug():
    assert [row.model for row in normalize.issue_rows(cloud_issue(1))] == [Issue]


@pytest.mark.parametrize(
    ("category", "status", "resolution", "expected"),
    [
        ("new", "Open", "", BugStatus.OPEN),
        ("indeterminate", "In Progress", "", BugStatus.IN_PROGRESS),
        ("done", "Done", "Done", BugStatus.RESOLVED),
        ("done", "Closed", "Fixed", BugStatus.CLOSED),
        ("done", "Done", "Duplicate", BugStatus.WONT_FIX),
        ("", "Custom", "", BugStatus.OPEN),
    ],
)
def test_bug_status_follows_the_category_and_the_resolution(category, status, resolution, expected):
    assert normalize.bug_status(category, status, resolution) == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("summary", None, "fields.summary is missing"),
        ("issuetype", None, "fields.issuetype is missing"),
        ("status", None, "fields.status is missing"),
        ("updated", "yesterday", "fields.updated 'yesterday' is not ISO 8601"),
        ("assignee", {"displayName": "Nobody"}, "fields.assignee has neither accountId"),
        ("labels", "bug", "fields.labels must be a list"),
    ],
)
def test_a_malformed_issue_is_rejected_naming_the_field(field, value, message):
    record = cloud_issue(1)
    record["fields"][field] = value

    with pytest.raises(RecordRejected, match=message):
        normalize.issue_rows(record)


def test_an_issue_without_its_site_context_is_rejected():
    record = payload("cloud_search_jql.json")["issues"][0]

    with pytest.raises(RecordRejected, match=r"_hub\.site"):
        normalize.issue_rows(record)


def test_a_sprint_keeps_its_state_dates_goal_and_origin_board():
    record = normalize.with_context(
        payload("board_sprints.json")["values"][0],
        normalize.sprint_context(site=CLOUD_SITE, board=9),
    )

    (row,) = normalize.sprint_rows(record)

    assert row.model is Sprint
    assert row.fields["external_id"] == "37"
    assert row.fields["name"] == "sprint 1"
    assert (row.fields["state"], row.fields["original_state"]) == (SprintState.CLOSED, "closed")
    assert row.fields["goal"] == "sprint 1 goal"
    assert row.fields["start_at"] == dt.datetime(2015, 4, 11, 5, 22, tzinfo=dt.UTC)
    assert row.fields["end_at"] == dt.datetime(2015, 4, 19, 15, 22, tzinfo=dt.UTC)
    assert row.fields["complete_at"] == dt.datetime(2015, 4, 20, 1, 4, tzinfo=dt.UTC)
    # Kept on its origin board, whichever board listed it.
    assert (row.fields["board_id"], row.fields["origin_board_id"]) == (5, 5)


def test_a_future_sprint_has_no_dates_and_without_an_origin_stays_on_its_board():
    sprint = dict(payload("board_sprints.json")["values"][1])
    record = normalize.with_context(sprint, normalize.sprint_context(site=CLOUD_SITE, board=9))

    fields = normalize.sprint_rows(record)[0].fields

    assert fields["state"] == SprintState.FUTURE
    assert fields["start_at"] is fields["end_at"] is fields["complete_at"] is None
    assert (fields["board_id"], fields["origin_board_id"]) == (9, None)


def test_a_sprint_in_an_unknown_state_is_rejected():
    sprint = {**payload("board_sprints.json")["values"][1], "state": "paused"}
    record = normalize.with_context(sprint, normalize.sprint_context(site=CLOUD_SITE, board=9))

    with pytest.raises(RecordRejected, match="state 'paused' is not one of"):
        normalize.sprint_rows(record)
