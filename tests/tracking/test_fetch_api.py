"""GET /api/fetch/<source>/<entity>: which pairs exist, who may read, what an item looks like."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.contenttypes.models import ContentType

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
from tracking.api.fetch import ENTITIES, valid_pairs
from tracking.models import AuditLog, Bug

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")

ALL_PAIRS = [(source, entity) for entity, sources in valid_pairs().items() for source in sources]


def fetch(client, source: str, entity: str, **params):
    return client.get(f"/api/fetch/{source}/{entity}", params)


@pytest.mark.parametrize(("source", "entity"), ALL_PAIRS)
def test_every_valid_pair_answers_200_with_empty_data_when_there_are_no_rows(
    staff_client, source, entity
):
    response = fetch(staff_client, source, entity)

    assert response.status_code == 200
    assert response.json() == {"data": [], "next_cursor": None}


def test_the_documented_pairs_are_the_valid_ones():
    assert valid_pairs() == {
        "users": ["all", "github", "jira", "slack", "manual"],
        "people": ["all"],
        "projects": ["all", "manual", "csv"],
        "repositories": ["all", "github"],
        "commits": ["all", "github"],
        "pull_requests": ["all", "github"],
        "issues": ["all", "github", "jira"],
        "bugs": ["all", "manual", "csv", "github", "jira"],
        "sprints": ["all", "jira"],
        "builds": ["all", "github_actions"],
        "messages": ["all", "slack"],
        "hours": ["all", "manual", "csv"],
        "audit": ["all"],
    }


@pytest.mark.parametrize("entity", ENTITIES.values(), ids=lambda entity: entity.name)
def test_each_entity_lists_only_sources_its_model_can_hold(entity):
    if not entity.sources:
        assert "source" not in {field.name for field in entity.model._meta.get_fields()}
        return
    choices = {value for value, _label in entity.model._meta.get_field("source").choices}

    assert set(entity.sources) <= choices


@pytest.mark.parametrize(
    ("source", "entity"),
    [("gitlab", "commits"), ("github", "deployments"), ("slack", "commits"), ("github", "people")],
    ids=["unknown source", "unknown entity", "source not of entity", "people have no source"],
)
def test_an_unknown_pair_answers_404_listing_the_valid_ones(staff_client, source, entity):
    response = fetch(staff_client, source, entity)

    assert response.status_code == 404
    body = response.json()
    assert source in body["detail"] and entity in body["detail"]
    assert body["valid"] == valid_pairs()


def test_an_anonymous_caller_is_refused(client):
    make_commit()

    response = fetch(client, "github", "commits")

    assert response.status_code == 403


def test_a_signed_in_user_without_staff_rights_may_read(plain_client):
    make_commit()

    response = fetch(plain_client, "github", "commits")

    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


def test_the_source_in_the_path_selects_rows_of_that_source_and_all_selects_every_one(
    staff_client,
):
    manual = make_bug(source="manual")
    imported = make_bug(source="csv", external_id="row-7")

    from_csv = fetch(staff_client, "csv", "bugs").json()["data"]
    from_all = fetch(staff_client, "all", "bugs").json()["data"]

    assert [item["id"] for item in from_csv] == [imported.pk]
    assert {item["id"] for item in from_all} == {manual.pk, imported.pk}


# --- item shape: each entity's item, as a warehouse reads it ------------------------------


def only_item(client, entity: str) -> dict:
    response = fetch(client, "all", entity)
    assert response.status_code == 200
    (item,) = response.json()["data"]
    return item


def assert_times_are_utc_with_z(item: dict) -> None:
    times = {name: value for name, value in item.items() if name.endswith("_at") and value}
    assert times, "every item has a time"
    for name, value in times.items():
        assert UTC_TIME.fullmatch(value), f"{name}={value!r}"


def test_a_user_item_has_its_natural_key_and_person(staff_client):
    person = make_person()
    identity = make_identity(source="slack", external_id="U123", person=person)

    item = only_item(staff_client, "users")

    assert item["id"] == identity.pk
    assert (item["source"], item["external_id"]) == ("slack", "U123")
    assert item["person_id"] == person.pk
    assert_times_are_utc_with_z(item)


def test_a_person_item_has_name_email_and_times(staff_client):
    person = make_person(name="Ann", email="ann@example.com")

    item = only_item(staff_client, "people")

    assert item == {
        "id": person.pk,
        "name": "Ann",
        "email": "ann@example.com",
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
    }
    assert_times_are_utc_with_z(item)


def test_a_project_item_links_its_owner(staff_client):
    owner = make_person()
    project = make_project(source="csv", external_id="P-1", owner=owner, tags=["api"])

    item = only_item(staff_client, "projects")

    assert (item["id"], item["source"], item["external_id"]) == (project.pk, "csv", "P-1")
    assert item["owner_id"] == owner.pk
    assert item["tags"] == ["api"]
    assert_times_are_utc_with_z(item)


def test_a_repository_item_links_its_project(staff_client):
    project = make_project()
    repository = make_repository(external_id="555", full_name="acme/api", project=project)

    item = only_item(staff_client, "repositories")

    assert (item["id"], item["source"], item["external_id"]) == (repository.pk, "github", "555")
    assert item["full_name"] == "acme/api"
    assert item["project_id"] == project.pk
    assert_times_are_utc_with_z(item)


def test_a_commit_item_links_repository_and_accounts_with_times_in_utc(staff_client):
    author = make_identity()
    commit = make_commit(
        author=author,
        committer=author,
        # A time given in another zone is shown in UTC.
        committed_at=dt.datetime(
            2024, 3, 1, 14, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2))
        ),
    )

    item = only_item(staff_client, "commits")

    assert (item["source"], item["external_id"]) == ("github", commit.external_id)
    assert item["committed_at"] == "2024-03-01T12:00:00.250000Z"
    assert item["repository_id"] == commit.repository_id
    assert (item["author_id"], item["committer_id"]) == (author.pk, author.pk)
    assert_times_are_utc_with_z(item)


def test_a_pull_request_item_links_repository_and_author(staff_client):
    author = make_identity()
    pull_request = make_pull_request(author=author, number=17, state="merged", merged_at=T0)

    item = only_item(staff_client, "pull_requests")

    assert (item["source"], item["external_id"]) == ("github", pull_request.external_id)
    assert (item["number"], item["state"]) == (17, "merged")
    assert (item["repository_id"], item["author_id"]) == (pull_request.repository_id, author.pk)
    assert item["merged_at"] == "2024-03-01T12:00:00Z"
    assert_times_are_utc_with_z(item)


def test_an_issue_item_links_project_repository_accounts_and_sprints(staff_client):
    project, repository = make_project(), make_repository()
    assignee, reporter = make_identity(), make_identity()
    issue = make_issue(
        source="github",
        external_id="I_1",
        project=project,
        repository=repository,
        assignee=assignee,
        reporter=reporter,
    )
    sprints = [make_sprint(), make_sprint()]
    issue.sprints.set(sprints)

    item = only_item(staff_client, "issues")

    assert (item["source"], item["external_id"], item["key"]) == ("github", "I_1", issue.key)
    assert (item["project_id"], item["repository_id"]) == (project.pk, repository.pk)
    assert (item["assignee_id"], item["reporter_id"]) == (assignee.pk, reporter.pk)
    assert item["sprint_ids"] == sorted(sprint.pk for sprint in sprints)
    assert_times_are_utc_with_z(item)


def test_a_bug_item_has_its_number_and_links(staff_client):
    project, assignee, account = make_project(), make_person(), make_identity(source="jira")
    bug = make_bug(
        source="jira",
        external_id="10001",
        project=project,
        assignee=assignee,
        assignee_identity=account,
    )

    item = only_item(staff_client, "bugs")

    assert (item["source"], item["external_id"]) == ("jira", "10001")
    assert item["number"] == bug.number and item["number"].startswith("BUG-")
    assert (item["project_id"], item["assignee_id"]) == (project.pk, assignee.pk)
    assert item["assignee_identity_id"] == account.pk
    assert item["reporter_id"] is None
    assert_times_are_utc_with_z(item)


def test_a_sprint_item_has_board_and_times(staff_client):
    sprint = make_sprint(board_id=7, start_at=T0, end_at=T0 + dt.timedelta(days=14))

    item = only_item(staff_client, "sprints")

    assert (item["source"], item["external_id"]) == ("jira", sprint.external_id)
    assert item["board_id"] == 7
    assert (item["start_at"], item["end_at"]) == ("2024-03-01T12:00:00Z", "2024-03-15T12:00:00Z")
    assert_times_are_utc_with_z(item)


def test_a_build_item_links_repository_and_actor(staff_client):
    repository, actor = make_repository(), make_identity()
    build = make_build(repository=repository, actor=actor, status="completed", conclusion="success")

    item = only_item(staff_client, "builds")

    assert (item["source"], item["external_id"]) == ("github_actions", build.external_id)
    assert (item["repository_id"], item["actor_id"]) == (repository.pk, actor.pk)
    assert (item["status"], item["conclusion"]) == ("completed", "success")
    assert_times_are_utc_with_z(item)


def test_a_message_item_keeps_slack_ts_and_links_its_user(staff_client):
    user = make_identity(source="slack")
    message = make_chat_message(user=user)

    item = only_item(staff_client, "messages")

    assert (item["source"], item["external_id"]) == ("slack", message.external_id)
    assert item["ts"] == message.ts
    assert item["user_id"] == user.pk
    assert item["posted_at"] == "2023-11-14T22:13:20Z"
    assert_times_are_utc_with_z(item)


def test_an_hours_item_links_person_bug_and_project(staff_client):
    project = make_project()
    bug = make_bug(project=project)
    hours = make_hours(bug=bug, date=dt.date(2024, 3, 1))

    item = only_item(staff_client, "hours")

    assert (item["source"], item["external_id"]) == ("manual", "")
    assert (item["person_id"], item["bug_id"], item["project_id"]) == (
        hours.person_id,
        bug.pk,
        project.pk,
    )
    assert (item["date"], item["hours"]) == ("2024-03-01", "2.50")
    assert_times_are_utc_with_z(item)


def test_an_audit_item_names_the_model_and_object(staff_client, staff_user):
    entry = AuditLog.objects.create(
        user=staff_user,
        actor="staff",
        content_type=ContentType.objects.get_for_model(Bug),
        object_id="42",
        object_repr="BUG-202403-0001 Crash",
        action="update",
        changes={"status": ["open", "closed"]},
    )

    item = only_item(staff_client, "audit")

    assert item["id"] == entry.pk
    assert (item["model"], item["object_id"], item["action"]) == ("tracking.bug", "42", "update")
    assert item["user_id"] == staff_user.pk
    assert item["changes"] == {"status": ["open", "closed"]}
    assert_times_are_utc_with_z(item)
