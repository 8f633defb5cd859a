"""The fake Jira (tests/fakes/jira/) answers as Jira documents, for the `jira` library.

The hub's Jira source is tested against this fake; these tests pin the fake
itself: Cloud's enhanced search and its 410 for the old one, Data Center's
classic search, JQL dates in the user's time zone, Jira's error shapes and auth.
Django-free: no database.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from jira import JIRA, JIRAError

from tests.fakes.jira import DATA_CENTER, FakeJira

EMAIL, TOKEN, PAT = "hub@example.com", "jira-api-token", "jira-pat"


@pytest.fixture
def cloud(jira_upstream, jira_server):
    """The fake's own fixtures: a Cloud site of 2 projects x 30 issues, served."""
    return jira_upstream, jira_server


@pytest.fixture
def data_center(fake_server):
    fake = FakeJira(deployment=DATA_CENTER, projects=2, issues_per_project=30)
    return fake, fake_server(fake.app)


def cloud_client(server) -> JIRA:
    return JIRA(
        server.url, basic_auth=(EMAIL, TOKEN), options={"rest_api_version": "3"}, max_retries=0
    )


def data_center_client(server) -> JIRA:
    return JIRA(server.url, token_auth=PAT, max_retries=0)


def get(server, path: str, *, auth: Any = (EMAIL, TOKEN), **params: Any) -> requests.Response:
    headers = {}
    if isinstance(auth, str):
        headers, auth = {"Authorization": f"Bearer {auth}"}, None
    return requests.get(f"{server.url}{path}", params=params, auth=auth, headers=headers, timeout=5)


def test_cloud_says_it_is_cloud_so_the_library_runs_the_enhanced_search(cloud):
    _, server = cloud
    client = cloud_client(server)

    result = client.enhanced_search_issues(
        "project = ALPHA ORDER BY key ASC", maxResults=100, fields=["summary"], json_result=True
    )

    assert client.deploymentType == "Cloud"
    assert len(result["issues"]) == 30
    assert result["isLast"] is True
    assert "nextPageToken" not in result  # left out of the last page, as Cloud does


def test_the_enhanced_search_pages_by_token_and_returns_ids_unless_asked_for_fields(cloud):
    _, server = cloud

    first = get(server, "/rest/api/3/search/jql", jql="project = ALPHA", maxResults=20).json()
    second = get(
        server,
        "/rest/api/3/search/jql",
        jql="project = ALPHA",
        maxResults=20,
        nextPageToken=first["nextPageToken"],
    ).json()

    assert first["issues"][0] == {"id": "10000"}
    assert (len(first["issues"]), first["isLast"]) == (20, False)
    assert (len(second["issues"]), second["isLast"]) == (10, True)


def test_a_token_of_another_query_is_refused(cloud):
    _, server = cloud
    first = get(server, "/rest/api/3/search/jql", jql="project = ALPHA", maxResults=5).json()

    answer = get(
        server, "/rest/api/3/search/jql", jql="project = BETA", nextPageToken=first["nextPageToken"]
    )

    assert answer.status_code == 400
    assert "nextPageToken is invalid" in answer.json()["errorMessages"][0]


@pytest.mark.parametrize("path", ["/rest/api/3/search", "/rest/api/2/search"])
def test_cloud_answers_410_gone_to_the_old_search(cloud, path):
    _, server = cloud

    answer = get(server, path, jql="project = ALPHA")

    assert answer.status_code == 410
    assert "/rest/api/3/search/jql" in answer.json()["errorMessages"][0]


def test_data_center_is_no_cloud_so_the_library_skips_the_enhanced_search(data_center):
    _, server = data_center
    client = data_center_client(server)

    assert client.deploymentType == "Server"
    assert client.enhanced_search_issues("project = ALPHA", json_result=True) is None


def test_data_center_pages_the_classic_search_by_start_at_with_a_total(data_center):
    _, server = data_center
    client = data_center_client(server)

    page = client.search_issues(
        "project = ALPHA ORDER BY key ASC", startAt=25, maxResults=10, json_result=True
    )

    assert (page["startAt"], page["total"], len(page["issues"])) == (25, 30, 5)
    assert page["issues"][0]["key"] == "ALPHA-26"


def test_data_center_has_no_rest_api_3(data_center):
    _, server = data_center

    assert get(server, "/rest/api/3/myself", auth=PAT).status_code == 404


def test_jql_dates_are_read_in_the_users_time_zone_to_the_minute(cloud):
    fake, server = cloud
    key = fake.add_issue("ALPHA", "At 16:00:30 in Los Angeles", seconds=30)  # 2025-01-01 00:00:30Z

    def found(jql: str) -> bool:
        answer = get(server, "/rest/api/3/search/jql", jql=jql, fields="key").json()
        return any(issue["key"] == key for issue in answer["issues"])

    assert found('project = ALPHA AND updated >= "2024-12-31 16:00"')
    assert not found('project = ALPHA AND updated >= "2024-12-31 16:01"')
    assert not found('project = ALPHA AND updated >= "2025-01-01 00:00"')  # read as local time


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("project = ALPHA AND colour = red", "Field 'colour' does not exist"),
        ('project = ALPHA AND updated >= "yesterday"', "Date value 'yesterday' for field"),
        (
            "project = ALPHA AND sprint = 999",
            "The value '999' does not exist for the field 'sprint'",
        ),
        ("ORDER BY key", "Unbounded JQL queries are not allowed here"),
        ("project = ALPHA ORDER BY summary", "Field 'summary' does not exist or cannot be sorted"),
        ("project = (ALPHA", "Error in the JQL Query"),
    ],
)
def test_a_query_jira_would_refuse_is_a_400_in_jiras_shape(cloud, jql, message):
    _, server = cloud

    answer = get(server, "/rest/api/3/search/jql", jql=jql)

    assert answer.status_code == 400
    assert message in answer.json()["errorMessages"][0]


def test_the_library_reports_the_400_with_jiras_message(cloud):
    _, server = cloud

    with pytest.raises(JIRAError) as error:
        cloud_client(server).enhanced_search_issues("project = NOPE", json_result=True)

    assert error.value.status_code == 400
    assert "does not exist for the field 'project'" in error.value.text


def test_sprint_and_or_clauses_select_as_jira_does(cloud):
    fake, server = cloud
    in_sprint_2 = {i.key for i in fake.project_issues("ALPHA") if 2 in i.sprints}

    answer = get(
        server,
        "/rest/api/3/search/jql",
        jql='project = ALPHA AND (updated >= "2030-01-01" OR sprint in (2))',
        fields="key",
        maxResults=100,
    ).json()

    assert {issue["key"] for issue in answer["issues"]} == in_sprint_2


def test_cloud_wants_basic_auth_with_the_api_token(cloud):
    _, server = cloud

    refused = get(server, "/rest/api/3/myself", auth=(EMAIL, "wrong"))

    assert refused.status_code == 401
    assert refused.json()["errorMessages"]
    assert get(server, "/rest/api/3/myself", auth=PAT).status_code == 401
    assert get(server, "/rest/api/3/myself").json()["timeZone"] == "America/Los_Angeles"


def test_data_center_wants_a_bearer_personal_access_token(data_center):
    _, server = data_center

    assert get(server, "/rest/api/2/myself", auth=(EMAIL, TOKEN)).status_code == 401
    assert get(server, "/rest/api/2/myself", auth="wrong").status_code == 401
    me = get(server, "/rest/api/2/myself", auth=PAT).json()
    assert (me["key"], me["name"]) == ("JIRAUSER10000", "hub")


def test_board_sprints_page_to_is_last_with_a_total_only_on_cloud(cloud, data_center):
    (_, cloud_server), (_, dc_server) = cloud, data_center

    on_cloud = get(cloud_server, "/rest/agile/1.0/board/1/sprint", maxResults=4).json()
    on_dc = get(dc_server, "/rest/agile/1.0/board/1/sprint", auth=PAT, startAt=4).json()

    assert (len(on_cloud["values"]), on_cloud["isLast"], on_cloud["total"]) == (4, False, 6)
    assert (len(on_dc["values"]), on_dc["isLast"]) == (2, True)
    assert "total" not in on_dc


def test_the_library_lists_sprints_and_scrum_boards(cloud):
    _, server = cloud
    client = cloud_client(server)

    sprints = client.sprints(1, startAt=0, maxResults=50)
    boards = client.boards(type="scrum")

    assert [sprint.raw["state"] for sprint in sprints][-2:] == ["active", "future"]
    assert sprints.isLast is True
    assert [board.id for board in boards] == [1, 2]


def test_a_kanban_board_has_no_sprints_and_an_unknown_board_is_not_found(cloud):
    _, server = cloud

    kanban = get(server, "/rest/agile/1.0/board/100/sprint")
    unknown = get(server, "/rest/agile/1.0/board/7/sprint")

    assert (kanban.status_code, kanban.json()["errorMessages"]) == (
        400,
        ["The board does not support sprints"],
    )
    assert unknown.status_code == 404


def test_the_field_list_names_the_story_points_and_sprint_fields(cloud, data_center):
    (_, cloud_server), (_, dc_server) = cloud, data_center

    on_cloud = {f["id"]: f["name"] for f in get(cloud_server, "/rest/api/3/field").json()}
    on_dc = {f["id"]: f["name"] for f in get(dc_server, "/rest/api/2/field", auth=PAT).json()}

    assert on_cloud["customfield_10016"] == "Story point estimate"
    assert on_cloud["customfield_10020"] == "Sprint"
    assert on_dc["customfield_10106"] == "Story Points"
    assert on_dc["customfield_10104"] == "Sprint"


def test_a_moved_issue_keeps_its_id_under_a_new_key(cloud):
    fake, server = cloud
    issue_id = fake.issue("ALPHA-3").id

    new_key = fake.move_issue("ALPHA-3", "BETA")

    answer = get(
        server, "/rest/api/3/search/jql", jql="project = BETA", fields="key", maxResults=100
    )
    moved = [issue for issue in answer.json()["issues"] if issue["key"] == new_key]
    assert new_key == "BETA-31"
    assert moved[0]["id"] == str(issue_id)
