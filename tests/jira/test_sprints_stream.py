"""jira/sprints: a board's sprints through the Agile API, and issues linked to their sprints."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.errors import PermanentError
from tracking.choices import SprintState
from tracking.models import Issue, Sprint

pytestmark = pytest.mark.django_db


def utc_ms(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def linked(key: str) -> list[int]:
    issue = Issue.objects.get(key=key)
    return sorted(int(sprint.external_id) for sprint in issue.sprints.all())


def test_a_boards_sprints_are_stored_with_their_state_dates_and_goal(any_jira):
    run = any_jira.sync("sprints", "1")

    assert run.created == 6
    for upstream in any_jira.upstream.board_sprints(1):
        sprint = Sprint.objects.get(external_id=str(upstream.id))
        assert sprint.name == upstream.name
        assert sprint.state == SprintState(upstream.state)
        assert sprint.original_state == upstream.state
        assert sprint.goal == upstream.goal
        assert sprint.start_at == utc_ms(upstream.start_ms)
        assert sprint.end_at == utc_ms(upstream.end_ms)
        assert sprint.complete_at == utc_ms(upstream.complete_ms)
        assert (sprint.board_id, sprint.origin_board_id) == (1, 1)
    assert set(Sprint.objects.values_list("state", flat=True)) == {"closed", "active", "future"}


def test_sprints_are_paged_until_the_page_that_says_it_is_the_last(make_jira, request):
    jira = make_jira(deployment="data_center", sprints_per_board=120)

    run = jira.sync("sprints", "1")

    assert run.created == 120
    pages = jira.query_of("/rest/agile/1.0/board/1/sprint")
    assert [query.get("startAt", ["0"])[0] for query in pages] == ["0", "50", "100"]
    assert run.pages == 3


def test_an_unchanged_board_is_one_request_and_changes_nothing(any_jira):
    any_jira.sync("sprints", "1")
    any_jira.server.clear_requests()

    run = any_jira.sync("sprints", "1")

    assert run.requests == 1 == len(any_jira.server.requests)
    assert (run.created, run.updated, run.unchanged) == (0, 0, 6)


def test_a_sprint_that_was_started_upstream_is_updated(jira):
    jira.sync("sprints", "1")
    future = jira.upstream.board_sprints(1)[-1]
    future.state, future.start_ms, future.end_ms = "active", jira.upstream.now_ms, None

    run = jira.sync("sprints", "1")

    assert run.updated == 1
    assert Sprint.objects.get(external_id=str(future.id)).state == SprintState.ACTIVE


def test_issues_are_linked_to_their_sprints(any_jira):
    any_jira.sync_all()

    for issue in any_jira.upstream.project_issues("ALPHA"):
        assert linked(issue.key) == sorted(issue.sprints), issue.key


def test_issues_read_before_their_sprints_are_linked_by_the_next_issues_run(any_jira):
    any_jira.sync("issues", "ALPHA")
    assert not Issue.sprints.through.objects.exists()
    any_jira.sync("sprints", "1")

    run = any_jira.sync("issues", "ALPHA")

    assert "sprint in (1, 2, 3, 4, 5, 6)" in any_jira.searches()[-1]
    assert run.updated > 0
    for issue in any_jira.upstream.project_issues("ALPHA"):
        assert linked(issue.key) == sorted(issue.sprints), issue.key


def test_an_issue_moved_into_a_sprint_stored_after_it_is_linked_next_time(jira):
    jira.sync_all()
    sprint = jira.upstream.add_sprint(1, "ALPHA Sprint 7", state="active")
    jira.upstream.update_issue("ALPHA-5", sprints=[sprint.id])
    jira.sync("issues", "ALPHA")  # before the sprint is stored: no link yet
    assert linked("ALPHA-5") == []
    jira.sync("sprints", "1")

    jira.sync("issues", "ALPHA")

    assert linked("ALPHA-5") == [sprint.id]


def test_a_sprint_deleted_upstream_does_not_stop_the_issues_sync(jira):
    jira.sync("issues", "ALPHA")
    jira.sync("sprints", "1")
    del jira.upstream.sprints[6]  # deleted in Jira after the hub stored it
    jira.upstream.update_issue("ALPHA-2", summary="Still synced")

    run = jira.sync("issues", "ALPHA")

    assert run.status == "succeeded"
    assert Issue.objects.get(key="ALPHA-2").title == "Still synced"
    with_sprints, without = jira.searches()[-2:]
    assert "sprint in" in with_sprints
    assert "sprint in" not in without


def test_a_sprint_shown_on_two_boards_is_one_row_kept_on_its_origin_board(jira):
    jira.upstream.share_sprint(3, 2)
    jira.sync("sprints", "1")

    run = jira.sync("sprints", "2")

    assert (run.created, run.unchanged) == (6, 1)
    assert Sprint.objects.count() == 12
    assert Sprint.objects.get(external_id="3").board_id == 1


def test_a_kanban_board_fails_saying_it_has_no_sprints(jira):
    with pytest.raises(PermanentError, match=r"board 100 has no sprints .a kanban board"):
        jira.sync("sprints", "100")


def test_a_board_that_does_not_exist_fails_naming_the_setting(jira):
    with pytest.raises(PermanentError, match=r"no board 999 .*JIRA_BOARDS"):
        jira.sync("sprints", "999")


@pytest.mark.parametrize("scope", ["", "ALPHA", "1a"])
def test_a_board_scope_that_is_not_a_number_fails_before_any_request(jira, scope):
    with pytest.raises(PermanentError, match="board id"):
        jira.sync("sprints", scope)

    assert jira.server.requests == []
