"""jira/issues: a project's issues through JQL search, Cloud's enhanced search or Data
Center's classic one, incremental on `updated` in the user's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.errors import PermanentError, TransientError
from ingestion.harness import run_sync
from ingestion.models import RawRecord, RejectedRecord, SyncRun, SyncState
from ingestion.streams import FetchContext, get_stream
from sources.jira.jql import local_minute
from sources.jira.streams import IssuesStream
from tracking.choices import IssueType, WorkStatus
from tracking.models import Identity, Issue, Project

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["cloud", "data_center"])
def deployment(request) -> str:
    return request.param


def keys_of(upstream, project: str = "ALPHA") -> set[str]:
    return {issue.key for issue in upstream.project_issues(project)}


def test_a_full_sync_stores_every_issue_of_the_project(any_jira):
    run = any_jira.sync("issues", "ALPHA")

    assert run.status == "succeeded"
    assert run.created == 30
    assert set(Issue.objects.values_list("key", flat=True)) == keys_of(any_jira.upstream)
    # Three searches of 10, after reading the site once (serverInfo, myself, field).
    assert run.requests == 6 == len(any_jira.server.requests)


def test_up_to_five_searches_are_loaded_in_one_transaction(make_jira):
    jira = make_jira(issues_per_project=120)

    run = jira.sync("issues", "ALPHA")

    assert jira.count(jira.search_path) == 12
    assert run.pages == 3  # 50 + 50 + 20 issues
    assert run.created == 120


def test_cloud_searches_the_enhanced_search_page_by_page_token(jira):
    jira.sync("issues", "ALPHA")

    searches = jira.query_of("/rest/api/3/search/jql")
    assert len(searches) == 3
    assert "nextPageToken" not in searches[0]
    assert all("nextPageToken" in query for query in searches[1:])
    assert jira.count("/rest/api/3/search") == 0  # answers 410 on Cloud


def test_data_center_searches_the_classic_search_by_start_at(jira_data_center):
    jira_data_center.sync("issues", "ALPHA")

    searches = jira_data_center.query_of("/rest/api/2/search")
    assert len(searches) == 3
    assert searches[0]["startAt"] == ["0"]
    assert jira_data_center.count("/rest/api/3/search/jql") == 0


def test_an_issue_keeps_its_fields_people_and_sprints(any_jira):
    Project.objects.create(name="Alpha", jira_project_key="ALPHA")
    key = any_jira.upstream.add_issue(
        "ALPHA",
        "Export fails on large files",
        issue_type="Story",
        status="In Progress",
        priority="High",
        assignee="grace",
        reporter="ada",
        sprints=[2],
        story_points=5,
        labels=["customer"],
    )
    any_jira.sync("sprints", "1")

    any_jira.sync("issues", "ALPHA")

    issue = Issue.objects.get(key=key)
    assert issue.title == "Export fails on large files"
    assert (issue.issue_type, issue.original_type) == (IssueType.STORY, "Story")
    assert (issue.status, issue.original_status) == (WorkStatus.IN_PROGRESS, "In Progress")
    assert issue.priority == "High"
    assert issue.story_points == 5
    assert issue.labels == ["customer"]
    assert issue.assignee.display_name == "Grace Hopper"
    assert issue.reporter.display_name == "Ada Lovelace"
    assert [sprint.external_id for sprint in issue.sprints.all()] == ["2"]
    assert issue.project.name == "Alpha"
    assert issue.upstream_project == "ALPHA"
    assert issue.url == f"{any_jira.server.url}/browse/{key}"


def test_people_with_a_visible_email_are_linked_to_the_person_with_that_email(jira):
    jira.upstream.add_issue("ALPHA", assignee="ada")

    jira.sync("issues", "ALPHA")

    ada = Identity.objects.get(source="jira", display_name="Ada Lovelace")
    assert ada.email == "ada@example.com"
    assert ada.person.email == "ada@example.com"


def test_the_kept_payload_is_jiras_without_its_links_to_resources_icons_and_avatars(any_jira):
    key = any_jira.upstream.add_issue("ALPHA", assignee="ada", issue_type="Bug")

    any_jira.sync("issues", "ALPHA")

    issue_id = str(any_jira.upstream.issue(key).id)
    payload = RawRecord.objects.get(entity="issues", external_id=issue_id).payload
    fields = payload["fields"]
    assert (payload["id"], payload["key"]) == (issue_id, key)
    assert "self" not in payload
    assert fields["assignee"]["displayName"] == "Ada Lovelace"
    assert "avatarUrls" not in fields["assignee"]
    assert fields["status"]["statusCategory"]["key"] == "new"
    assert not {"self", "iconUrl"} & (set(fields["status"]) | set(fields["issuetype"]))
    assert payload["_hub"]["project"] == "ALPHA"


def test_an_unchanged_incremental_sync_is_one_request(any_jira):
    any_jira.sync("issues", "ALPHA")
    any_jira.server.clear_requests()

    run = any_jira.sync("issues", "ALPHA")

    assert run.requests == 1 == len(any_jira.server.requests)
    assert run.created == run.updated == 0


def test_an_incremental_sync_reads_what_changed_since_the_checkpoint(any_jira):
    any_jira.sync("issues", "ALPHA")
    any_jira.upstream.update_issue("ALPHA-3", summary="Renamed upstream")

    run = any_jira.sync("issues", "ALPHA")

    assert run.updated == 1
    assert Issue.objects.get(key="ALPHA-3").title == "Renamed upstream"


def test_the_lower_bound_is_the_checkpoint_minus_the_overlap_in_the_users_time_zone(make_jira):
    jira = make_jira(time_zone="Asia/Kolkata")
    jira.sync("issues", "ALPHA")
    checkpoint = SyncState.objects.get(entity="issues", scope="ALPHA").high_water_mark

    jira.sync("issues", "ALPHA")

    bound = local_minute(checkpoint - IssuesStream.overlap, "Asia/Kolkata")
    assert jira.searches()[-1] == (
        f'project = "ALPHA" AND updated >= "{bound}" ORDER BY updated ASC, key ASC'
    )


def test_an_update_in_the_same_minute_as_the_checkpoint_is_not_skipped(any_jira, monkeypatch):
    # Even without the overlap: the bound is rounded down to the minute, in the user's zone
    # (the fake's user is in Los Angeles: a bound written in UTC would be 8 hours late).
    monkeypatch.setattr(IssuesStream, "overlap", dt.timedelta(0))
    first = any_jira.upstream.add_issue("ALPHA", "First", seconds=5)
    any_jira.sync("issues", "ALPHA")
    checkpoint = SyncState.objects.get(entity="issues", scope="ALPHA").high_water_mark
    second = any_jira.upstream.add_issue("ALPHA", "Same minute", seconds=20)
    assert (
        any_jira.upstream.issue(second).updated_ms - any_jira.upstream.issue(first).updated_ms
        == 20_000
    )
    assert checkpoint.second == 5

    run = any_jira.sync("issues", "ALPHA")

    assert run.created == 1
    assert Issue.objects.filter(key=second).exists()


def test_a_full_sync_reads_every_issue_again(jira):
    jira.sync("issues", "ALPHA")

    run = jira.sync("issues", "ALPHA", full=True)

    assert run.fetched == 30
    assert run.unchanged == 30
    assert jira.searches()[-1] == 'project = "ALPHA" ORDER BY updated ASC, key ASC'


def test_an_issue_updated_while_data_center_pages_shifts_no_other_past_a_page(make_jira):
    upstream = make_jira(deployment="data_center", issues_per_project=300).upstream
    stream = get_stream("jira", "issues")
    context = FetchContext(scope="ALPHA", since=None, cursor=None, full=True)
    seen: list[str] = []

    for page in stream.fetch_pages(context):
        if not seen:
            # The oldest issue changes: it moves to the end of the order, and every issue
            # after it moves one place up, across the boundary of the next search.
            upstream.update_issue(page.records[0]["key"], summary="Changed during the sync")
        seen.extend(record["key"] for record in page.records)

    assert set(seen) == keys_of(upstream)


def test_the_next_searches_are_sent_while_the_harness_loads_a_page(make_jira, deployment):
    jira = make_jira(deployment=deployment, issues_per_project=300)
    pages = get_stream("jira", "issues").fetch_pages(
        FetchContext(scope="ALPHA", since=None, cursor=None, full=True)
    )

    first = next(pages)  # five searches' issues, not loaded yet

    assert len(first.records) == 50
    # serverInfo, myself, field, the page's five searches, and the next one read ahead.
    jira.server.wait_for_requests(3 + 5 + 1)
    pages.close()


def test_a_sync_stopped_by_an_upstream_error_resumes_after_its_last_page(make_jira, deployment):
    jira = make_jira(deployment=deployment, issues_per_project=300)
    path = f"^{jira.search_path}$"

    def fail_a_later_search(run: SyncRun) -> None:
        if run.pages == 1:
            jira.server.faults.next("http_503", path=path)

    with pytest.raises(TransientError, match="503"):
        run_sync(get_stream("jira", "issues"), "ALPHA", progress=fail_a_later_search)
    stored = Issue.objects.count()
    assert 50 <= stored < 300
    assert SyncState.objects.get(entity="issues", scope="ALPHA").cursor is not None

    resumed = jira.sync("issues", "ALPHA")

    assert resumed.fetched == 300 - stored  # from the search after the last committed one
    assert set(Issue.objects.values_list("key", flat=True)) == keys_of(jira.upstream)


def test_a_resumed_cloud_search_whose_page_token_expired_starts_its_window_again(make_jira):
    jira = make_jira(issues_per_project=300)

    def fail_a_later_search(run: SyncRun) -> None:
        if run.pages == 1:
            jira.server.faults.next("http_503", path="^/rest/api/3/search/jql$")

    with pytest.raises(TransientError):
        run_sync(get_stream("jira", "issues"), "ALPHA", progress=fail_a_later_search)
    state = SyncState.objects.get(entity="issues", scope="ALPHA")
    state.cursor = {**state.cursor, "token": "expired-a-week-ago"}
    state.save()

    run = jira.sync("issues", "ALPHA")

    assert run.status == "succeeded"
    assert run.fetched == 300  # the window read again; stored pages count unchanged
    assert Issue.objects.count() == 300


def test_a_project_that_does_not_exist_fails_that_scope_only(jira):
    with pytest.raises(PermanentError, match=r"no project NOPE .*JIRA_PROJECTS"):
        jira.sync("issues", "NOPE")

    assert jira.sync("issues", "ALPHA").created == 30


@pytest.mark.parametrize("scope", ["alpha", "", "AL PHA"])
def test_a_scope_that_is_not_a_project_key_fails_before_any_request(jira, scope):
    with pytest.raises(PermanentError, match="project key"):
        jira.sync("issues", scope)

    assert jira.server.requests == []


def test_an_issue_jira_sends_malformed_is_rejected_and_the_others_load(jira):
    jira.upstream.update_issue("ALPHA-4", summary="")

    run = jira.sync("issues", "ALPHA")

    assert (run.created, run.rejected) == (29, 1)
    rejected = RejectedRecord.objects.get()
    assert rejected.external_id == str(jira.upstream.issue("ALPHA-4").id)
    assert "fields.summary is missing" in rejected.error
