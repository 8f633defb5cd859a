"""What the fetch API's time windows and filters select.

`since` is inclusive and `until` exclusive, on each entity's own time; `changed_since`
is inclusive, on the time the hub last stored a change, and orders the pages by it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.tracking.factories import (
    make_bug,
    make_build,
    make_chat_message,
    make_commit,
    make_hours,
    make_identity,
    make_issue,
    make_person,
    make_project,
    make_pull_request,
    make_repository,
    make_sprint,
)
from tracking.models import Bug, Commit, Person, Sprint

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def ids(client, source: str, entity: str, **params) -> list[int]:
    response = client.get(f"/api/fetch/{source}/{entity}", params)
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["data"]]


# --- since / until / changed_since -------------------------------------------------------


@pytest.fixture
def commits_each_hour():
    repository = make_repository()
    return [make_commit(repository=repository, committed_at=T0 + n * HOUR) for n in range(4)]


def test_since_includes_a_row_at_that_very_time(staff_client, commits_each_hour):
    listed = ids(staff_client, "github", "commits", since="2024-03-01T13:00:00Z")

    assert listed == [commit.pk for commit in commits_each_hour[1:]]


def test_until_excludes_a_row_at_that_very_time(staff_client, commits_each_hour):
    listed = ids(staff_client, "github", "commits", until="2024-03-01T14:00:00Z")

    assert listed == [commit.pk for commit in commits_each_hour[:2]]


def test_since_and_until_together_select_a_half_open_window(staff_client, commits_each_hour):
    listed = ids(
        staff_client,
        "github",
        "commits",
        since="2024-03-01T13:00:00Z",
        until="2024-03-01T15:00:00Z",
    )

    assert listed == [commit.pk for commit in commits_each_hour[1:3]]


def test_a_time_with_an_offset_means_that_instant(staff_client, commits_each_hour):
    listed = ids(staff_client, "github", "commits", since="2024-03-01T15:00:00+02:00")

    assert listed == [commit.pk for commit in commits_each_hour[1:]]


def test_a_time_without_a_zone_is_utc(staff_client, commits_each_hour):
    listed = ids(staff_client, "github", "commits", since="2024-03-01T14:00:00")

    assert listed == [commit.pk for commit in commits_each_hour[2:]]


@pytest.mark.parametrize(
    ("entity", "make_row", "time_field"),
    [
        ("users", make_identity, "last_seen_at"),
        ("repositories", make_repository, "last_seen_at"),
        ("pull_requests", make_pull_request, "updated_at"),
        ("issues", make_issue, "updated_at"),
        ("builds", make_build, "created_at"),
        ("messages", make_chat_message, "posted_at"),
        ("sprints", make_sprint, "start_at"),
        # Rows people edit: updated_at.
        ("people", make_person, "updated_at"),
        ("projects", make_project, "updated_at"),
        ("bugs", make_bug, "updated_at"),
        ("hours", make_hours, "updated_at"),
    ],
)
def test_since_compares_each_entitys_own_time(staff_client, entity, make_row, time_field):
    old, new = make_row(), make_row()
    model = type(old)
    # update(), not save(): save() stamps updated_at with the current time.
    model.objects.filter(pk=old.pk).update(**{time_field: T0 - HOUR})
    model.objects.filter(pk=new.pk).update(**{time_field: T0})

    assert ids(staff_client, "all", entity, since="2024-03-01T12:00:00Z") == [new.pk]


def test_changed_since_selects_rows_stored_at_or_after_it_in_that_order(staff_client):
    repository = make_repository()
    # Committed in one order, last stored by the hub in the other.
    first = make_commit(repository=repository, committed_at=T0, last_seen_at=T0 + 3 * HOUR)
    second = make_commit(repository=repository, committed_at=T0 + HOUR, last_seen_at=T0 + 2 * HOUR)
    make_commit(repository=repository, committed_at=T0 + 2 * HOUR, last_seen_at=T0)

    listed = ids(staff_client, "github", "commits", changed_since="2024-03-01T14:00:00Z")

    assert listed == [second.pk, first.pk]


def test_changed_since_uses_updated_at_for_people(staff_client):
    before, after = make_person(), make_person()
    Person.objects.filter(pk=before.pk).update(updated_at=T0 - HOUR)
    Person.objects.filter(pk=after.pk).update(updated_at=T0)

    assert ids(staff_client, "all", "people", changed_since="2024-03-01T12:00:00Z") == [after.pk]


def test_changed_since_and_a_time_window_combine(staff_client):
    repository = make_repository()
    inside = make_commit(repository=repository, committed_at=T0, last_seen_at=T0 + 5 * HOUR)
    make_commit(repository=repository, committed_at=T0 - 5 * HOUR, last_seen_at=T0 + 5 * HOUR)
    make_commit(repository=repository, committed_at=T0, last_seen_at=T0 - 5 * HOUR)

    listed = ids(
        staff_client,
        "github",
        "commits",
        since="2024-03-01T12:00:00Z",
        changed_since="2024-03-01T13:00:00Z",
    )

    assert listed == [inside.pk]


# --- filters -------------------------------------------------------------------------------


def test_project_filter(staff_client):
    project = make_project()
    mine = make_bug(project=project)
    make_bug(project=make_project())

    assert ids(staff_client, "all", "bugs", project=project.pk) == [mine.pk]


def test_repository_filter_takes_an_id(staff_client):
    repository = make_repository()
    mine = make_commit(repository=repository)
    make_commit()

    assert ids(staff_client, "github", "commits", repository=repository.pk) == [mine.pk]


def test_repository_filter_takes_owner_and_name(staff_client):
    repository = make_repository(full_name="acme/api")
    mine = make_pull_request(repository=repository)
    make_pull_request()

    assert ids(staff_client, "github", "pull_requests", repository="acme/api") == [mine.pk]


def test_person_filter_on_bugs_is_the_assignee(staff_client):
    person = make_person()
    mine = make_bug(assignee=person)
    make_bug(reporter=person)

    assert ids(staff_client, "all", "bugs", person=person.pk) == [mine.pk]


def test_person_filter_on_commits_follows_the_authors_account_to_its_person(staff_client):
    person = make_person()
    mine = make_commit(author=make_identity(person=person))
    make_commit(author=make_identity())
    make_commit(author=None)

    assert ids(staff_client, "github", "commits", person=person.pk) == [mine.pk]


def test_person_filter_on_users_lists_that_persons_accounts(staff_client):
    person = make_person()
    accounts = [make_identity(person=person), make_identity(source="slack", person=person)]
    make_identity()

    assert set(ids(staff_client, "all", "users", person=person.pk)) == {a.pk for a in accounts}


def test_person_filter_on_hours(staff_client):
    hours = make_hours()
    make_hours()

    assert ids(staff_client, "manual", "hours", person=hours.person_id) == [hours.pk]


def make_started_sprint(**fields) -> Sprint:
    # A sprint without a start time is left out of a listing by time.
    return make_sprint(start_at=T0, **fields)


@pytest.mark.parametrize(
    ("make_row", "source", "entity", "name", "wanted", "other"),
    [
        (make_bug, "all", "bugs", "status", "closed", "open"),
        (make_issue, "jira", "issues", "status", "done", "todo"),
        (make_build, "github_actions", "builds", "status", "completed", "queued"),
        (make_pull_request, "github", "pull_requests", "state", "merged", "open"),
        (make_started_sprint, "jira", "sprints", "state", "active", "closed"),
    ],
    ids=["bugs", "issues", "builds", "pull_requests", "sprints"],
)
def test_status_or_state_filter_selects_rows_with_that_value(
    staff_client, make_row, source, entity, name, wanted, other
):
    match = make_row(**{name: wanted})
    make_row(**{name: other})

    assert ids(staff_client, source, entity, **{name: wanted}) == [match.pk]


def test_filters_combine_with_the_source_and_each_other(staff_client):
    project = make_project()
    wanted = make_bug(project=project, status="open", source="csv", external_id="r1")
    make_bug(project=project, status="open")
    make_bug(project=project, status="closed", source="csv", external_id="r2")

    listed = ids(staff_client, "csv", "bugs", project=project.pk, status="open")

    assert listed == [wanted.pk]


def test_deleted_bugs_are_listed_with_their_deletion_time(staff_client):
    bug = make_bug()
    bug.soft_delete()

    (item,) = staff_client.get("/api/fetch/manual/bugs").json()["data"]

    assert item["id"] == bug.pk
    assert item["deleted_at"] == Bug.objects.get(pk=bug.pk).deleted_at.isoformat().replace(
        "+00:00", "Z"
    )


def test_an_empty_filter_value_filters_nothing(staff_client):
    bugs = [make_bug(status="open"), make_bug(status="closed")]

    assert ids(staff_client, "all", "bugs", status="") == [b.pk for b in sorted_by_update(bugs)]


def sorted_by_update(bugs: list[Bug]) -> list[Bug]:
    return sorted(
        Bug.objects.filter(pk__in=[b.pk for b in bugs]), key=lambda b: (b.updated_at, b.pk)
    )


def test_a_repository_that_does_not_exist_matches_nothing(staff_client):
    make_commit()

    assert ids(staff_client, "github", "commits", repository="nobody/nothing") == []
    assert Commit.objects.count() == 1
