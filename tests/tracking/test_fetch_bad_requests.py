"""Bad fetch parameters answer 400, naming the parameter and the form it expects."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from tests.tracking.factories import make_commit, make_repository
from tracking.models import Commit

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def fetch(client, path: str, **params):
    return client.get(f"/api/fetch/{path}", params)


@pytest.fixture
def next_cursor(staff_client) -> str:
    """The cursor after the first of three commits, listed by repository id."""
    repository = make_repository()
    for n in range(3):
        make_commit(repository=repository, committed_at=T0 + dt.timedelta(minutes=n))
    body = fetch(staff_client, "github/commits", limit=1, repository=repository.pk).json()
    return body["next_cursor"]


@pytest.mark.parametrize("name", ["since", "until", "changed_since"])
@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "1709294400"])
def test_a_time_that_is_not_iso_8601_is_refused(staff_client, name, value):
    response = fetch(staff_client, "github/commits", **{name: value})

    assert response.status_code == 400
    assert response.json() == {
        name: ["Expected an ISO 8601 time, such as 2024-05-01T12:00:00Z (no zone means UTC)."]
    }


def test_until_before_since_is_refused(staff_client):
    response = fetch(
        staff_client, "github/commits", since="2024-03-02T00:00:00Z", until="2024-03-01T00:00:00Z"
    )

    assert response.status_code == 400
    assert response.json() == {"until": ["Expected a time later than since."]}


@pytest.mark.parametrize("value", ["0", "1001", "x", "-5", "2.5"])
def test_a_limit_outside_1_to_1000_is_refused(staff_client, value):
    response = fetch(staff_client, "github/commits", limit=value)

    assert response.status_code == 400
    assert response.json() == {"limit": ["Expected a whole number from 1 to 1000."]}


@pytest.mark.parametrize("value", ["1", "1000"])
def test_limits_at_both_ends_are_accepted(staff_client, value):
    assert fetch(staff_client, "github/commits", limit=value).status_code == 200


def test_an_empty_parameter_counts_as_absent_as_html_forms_send_it(staff_client):
    make_commit()

    response = fetch(staff_client, "github/commits", since="", limit="", cursor="", person="")

    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


def encode(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        encode(["a", "list"]),
        encode({"t": "2024-03-01T12:00:00+00:00", "i": "7", "f": "x"}),
        encode({"t": "2024-03-01T12:00:00", "i": 7, "f": "x"}),
        encode({"t": "noon", "i": 7, "f": "x"}),
    ],
    ids=["text", "not base64", "not an object", "id not a number", "naive time", "bad time"],
)
def test_a_cursor_this_api_did_not_make_is_refused(staff_client, cursor):
    response = fetch(staff_client, "github/commits", cursor=cursor)

    assert response.status_code == 400
    assert response.json() == {
        "cursor": ["Not a cursor from this API: pass next_cursor unchanged."]
    }


@pytest.mark.parametrize(
    ("path", "changed"),
    [
        ("github/commits", {"repository": "acme/other"}),
        ("github/commits", {"since": "2024-01-01T00:00:00Z"}),
        ("github/commits", {"changed_since": "2024-01-01T00:00:00Z"}),
        ("all/commits", {}),
        ("github/pull_requests", {}),
    ],
    ids=["other filter value", "added since", "ordered by change", "other source", "other entity"],
)
def test_a_cursor_used_with_other_filters_is_refused(staff_client, next_cursor, path, changed):
    response = fetch(staff_client, path, cursor=next_cursor, **changed)

    assert response.status_code == 400
    (message,) = response.json()["cursor"]
    assert message.startswith("This cursor was made with other filters")


def test_a_cursor_used_with_the_same_filters_is_accepted(staff_client, next_cursor):
    repository_id = Commit.objects.values_list("repository_id", flat=True)[0]

    response = fetch(staff_client, "github/commits", cursor=next_cursor, repository=repository_id)

    assert response.status_code == 200


def test_an_unknown_parameter_is_refused_listing_the_accepted_ones(staff_client):
    response = fetch(staff_client, "github/commits", sinse="2024-01-01T00:00:00Z")

    assert response.status_code == 400
    assert response.json() == {
        "sinse": [
            "Unknown parameter. Accepted for commits: "
            "since, until, changed_since, limit, cursor, repository, person."
        ]
    }


def test_a_filter_of_another_entity_is_an_unknown_parameter(staff_client):
    response = fetch(staff_client, "all/people", status="open")

    assert response.status_code == 400
    assert response.json() == {
        "status": [
            "Unknown parameter. Accepted for people: since, until, changed_since, limit, cursor."
        ]
    }


@pytest.mark.parametrize(
    ("path", "name", "value", "message"),
    [
        (
            "all/bugs",
            "status",
            "done",
            "Expected one of: open, in_progress, resolved, closed, wont_fix.",
        ),
        ("github/pull_requests", "state", "draft", "Expected one of: open, closed, merged."),
        ("jira/sprints", "state", "ACTIVE", "Expected one of: future, active, closed."),
        ("all/issues", "status", "open", "Expected one of: todo, in_progress, done."),
        ("all/bugs", "project", "abc", "Expected a project id: a whole number, 1 or more."),
        ("all/bugs", "project", "0", "Expected a project id: a whole number, 1 or more."),
        ("all/hours", "person", "me", "Expected a person id: a whole number, 1 or more."),
        (
            "github/commits",
            "repository",
            "acme",
            "Expected a repository id or owner/name (acme/api).",
        ),
        (
            "github/commits",
            "repository",
            "a/b/c",
            "Expected a repository id or owner/name (acme/api).",
        ),
    ],
)
def test_a_bad_filter_value_is_refused_naming_the_expected_form(
    staff_client, path, name, value, message
):
    response = fetch(staff_client, path, **{name: value})

    assert response.status_code == 400
    assert response.json() == {name: [message]}
