"""The fake GitHub (tests/fakes/github/) answers as GitHub documents, for PyGithub and social-core.

The hub's GitHub source is tested against this fake; these tests pin the fake
itself to GitHub's shapes and behaviours: Link paging, filters, rate limits,
conditional requests, secondary limits, bad credentials and the OAuth flow.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import github
import pytest
import requests
from social_core.backends.github_enterprise import GithubEnterpriseOAuth2
from social_core.strategy import BaseStrategy

from tests.fakes import FakeServer
from tests.fakes.github import FakeGitHub

TOKEN = "ghp_test"
CLIENT_ID = "hub-client-id"
CLIENT_SECRET = "hub-client-secret"
REDIRECT_URI = "http://hub.test/complete/github-enterprise/"


def pygithub(server, token: str = TOKEN) -> github.Github:
    return github.Github(
        auth=github.Auth.Token(token),
        base_url=server.url,
        per_page=100,
        retry=None,
        seconds_between_requests=None,
    )


def api(server, path: str, token: str = TOKEN, **params: Any) -> requests.Response:
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    return requests.get(f"{server.url}{path}", headers=headers, params=params, timeout=5)


def committer_dates(commits: list[dict[str, Any]]) -> list[str]:
    return [commit["commit"]["committer"]["date"] for commit in commits]


# --- repositories --------------------------------------------------------------------


def test_repository_has_githubs_fields(github_server):
    repository = api(github_server, "/repos/acme/repo-001").json()

    assert repository["full_name"] == "acme/repo-001"
    assert repository["owner"]["login"] == "acme"
    assert repository["owner"]["type"] == "Organization"
    assert repository["html_url"] == "https://github.com/acme/repo-001"
    assert repository["url"] == f"{github_server.url}/repos/acme/repo-001"
    assert repository["default_branch"] == "main"
    assert {"id", "node_id", "private", "fork", "archived", "disabled", "visibility"} <= set(
        repository
    )
    assert repository["created_at"] < repository["pushed_at"]


def test_unknown_repository_is_githubs_404(github_server):
    response = api(github_server, "/repos/acme/nope")

    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
    assert response.json()["documentation_url"].startswith("https://docs.github.com/rest")
    with pytest.raises(github.UnknownObjectException):
        pygithub(github_server).get_repo("acme/nope")


def test_user_repos_lists_every_visible_repository_by_full_name(fake_server):
    server = fake_server(FakeGitHub(repositories=7).app)

    names = [repo.full_name for repo in pygithub(server).get_user().get_repos()]

    assert names == [f"acme/repo-{index:03d}" for index in range(7)]


def test_org_repos_filter_forks_and_sources(fake_server):
    server = fake_server(FakeGitHub(repositories=6).app)

    forks = api(server, "/orgs/acme/repos", type="forks").json()
    sources = api(server, "/orgs/acme/repos", type="sources").json()

    assert [repo["name"] for repo in forks] == ["repo-003"]
    assert "repo-003" not in {repo["name"] for repo in sources} and len(sources) == 5


def test_enough_repositories_include_a_private_one_a_fork_and_an_archive(fake_server):
    server = fake_server(FakeGitHub(repositories=5).app)

    repositories = {repo["name"]: repo for repo in api(server, "/user/repos").json()}

    assert (
        repositories["repo-002"]["private"] and repositories["repo-002"]["visibility"] == "private"
    )
    assert repositories["repo-003"]["fork"]
    assert repositories["repo-004"]["archived"]
    assert [r["name"] for r in api(server, "/user/repos", visibility="private").json()] == [
        "repo-002"
    ]


def test_user_repos_refuses_type_with_visibility(github_server):
    response = api(github_server, "/user/repos", type="owner", visibility="all")

    assert response.status_code == 422


def test_unknown_org_is_404(github_server):
    assert api(github_server, "/orgs/nobody/repos").status_code == 404


def test_added_repository_is_listed_and_newer_than_the_rest(github_upstream, github_server):
    full_name = github_upstream.add_repository("new-service", description="fresh")

    repositories = api(github_server, "/orgs/acme/repos", sort="created").json()

    assert full_name == "acme/new-service"
    assert repositories[0]["full_name"] == "acme/new-service"
    assert repositories[0]["created_at"] > max(r["created_at"] for r in repositories[1:])
    assert len(api(github_server, "/repos/acme/new-service/commits").json()) == 1


# --- branches and commits --------------------------------------------------------------


def test_commits_page_through_link_headers_with_pygithub(fake_server):
    server = fake_server(FakeGitHub(repositories=1, commits=250).app)

    commits = list(pygithub(server).get_repo("acme/repo-000").get_commits())

    assert len(commits) == 250
    assert len({commit.sha for commit in commits}) == 250
    assert server.request_count("/repos/acme/repo-000/commits") == 3
    dates = [commit.commit.committer.date for commit in commits]
    assert dates == sorted(dates, reverse=True)


def test_commit_pages_carry_next_last_prev_and_first_links(fake_server):
    server = fake_server(FakeGitHub(repositories=1, commits=250).app)

    response = api(server, "/repos/acme/repo-000/commits", per_page=100, page=2)

    assert set(response.links) == {"next", "last", "prev", "first"}
    assert "page=3" in response.links["last"]["url"]


def test_commit_has_githubs_shape_with_40_hex_shas(github_server):
    commit = api(github_server, "/repos/acme/repo-000/commits").json()[0]

    assert len(commit["sha"]) == 40 and int(commit["sha"], 16) >= 0
    assert set(commit["commit"]) >= {"author", "committer", "message", "tree", "url"}
    assert commit["commit"]["author"]["date"].endswith("Z")
    assert commit["html_url"] == f"https://github.com/acme/repo-000/commit/{commit['sha']}"
    assert [parent["sha"] for parent in commit["parents"]] == [
        api(github_server, "/repos/acme/repo-000/commits").json()[1]["sha"]
    ]


def test_some_commit_authors_are_unknown_to_github(fake_server):
    server = fake_server(FakeGitHub(repositories=1, commits=200).app)

    commits = api(server, "/repos/acme/repo-000/commits", per_page=100).json()
    commits += api(server, "/repos/acme/repo-000/commits", per_page=100, page=2).json()

    unknown = [commit for commit in commits if commit["author"] is None]
    assert 5 <= len(unknown) <= 40
    assert all(commit["commit"]["author"]["email"] for commit in unknown)


def test_since_and_until_filter_on_the_committer_date_inclusively(github_server):
    dates = committer_dates(api(github_server, "/repos/acme/repo-000/commits").json())

    window = api(github_server, "/repos/acme/repo-000/commits", since=dates[20], until=dates[10])

    assert committer_dates(window.json()) == dates[10:21]


def test_since_with_pygithub_datetime(github_server):
    repository = pygithub(github_server).get_repo("acme/repo-000")
    newest_five = list(repository.get_commits())[:5]

    since = newest_five[-1].commit.committer.date
    recent = list(repository.get_commits(since=since))

    assert [commit.sha for commit in recent] == [commit.sha for commit in newest_five]


def test_added_commit_is_the_newest_and_after_every_generated_time(github_upstream, github_server):
    before = api(github_server, "/repos/acme/repo-000/commits").json()

    sha = github_upstream.add_commit("acme/repo-000", message="Fix the thing")
    commits = api(
        github_server,
        "/repos/acme/repo-000/commits",
        since=before[0]["commit"]["committer"]["date"],
    ).json()

    assert [commit["sha"] for commit in commits] == [sha, before[0]["sha"]]
    assert commits[0]["parents"][0]["sha"] == before[0]["sha"]
    assert commits[0]["commit"]["message"] == "Fix the thing"
    assert commits[0]["author"]["login"] == "octocat"


def test_commit_by_an_unknown_author_has_a_null_author(github_upstream, github_server):
    github_upstream.add_commit("acme/repo-000", author_login=None, author_email="ghost@old.example")

    newest = api(github_server, "/repos/acme/repo-000/commits").json()[0]

    assert newest["author"] is None
    assert newest["commit"]["author"]["email"] == "ghost@old.example"


def test_the_same_sha_is_on_two_branches(fake_server):
    server = fake_server(FakeGitHub(repositories=1, commits=20, branches=("main", "develop")).app)

    main = {c["sha"] for c in api(server, "/repos/acme/repo-000/commits", sha="main").json()}
    develop = [c["sha"] for c in api(server, "/repos/acme/repo-000/commits", sha="develop").json()]

    assert main & set(develop)
    assert set(develop) - main, "develop adds commits of its own"
    assert develop[0] not in main


def test_branches_list_names_heads_and_protection(fake_server):
    server = fake_server(FakeGitHub(repositories=1, branches=("main", "develop")).app)

    branches = api(server, "/repos/acme/repo-000/branches").json()
    main_head = api(server, "/repos/acme/repo-000/commits").json()[0]["sha"]

    assert [branch["name"] for branch in branches] == ["develop", "main"]
    assert branches[1]["commit"]["sha"] == main_head
    assert [branch["protected"] for branch in branches] == [False, True]


def test_added_branch_shares_its_base_and_then_diverges(github_upstream, github_server):
    head = github_upstream.add_branch("acme/repo-000", "feature/x")
    sha = github_upstream.add_commit("acme/repo-000", branch="feature/x")

    feature = api(github_server, "/repos/acme/repo-000/commits", sha="feature/x").json()
    main = api(github_server, "/repos/acme/repo-000/commits", sha="main").json()

    assert [commit["sha"] for commit in feature[:2]] == [sha, head]
    assert main[0]["sha"] == head


def test_commits_from_a_sha_list_its_ancestry(github_server):
    commits = api(github_server, "/repos/acme/repo-000/commits").json()

    from_sha = api(github_server, "/repos/acme/repo-000/commits", sha=commits[5]["sha"]).json()

    assert [commit["sha"] for commit in from_sha] == [commit["sha"] for commit in commits[5:]]


def test_unknown_sha_is_404(github_server):
    response = api(github_server, "/repos/acme/repo-000/commits", sha="0" * 40)

    assert response.status_code == 404
    assert response.json()["message"] == f"No commit found for SHA: {'0' * 40}"


def test_same_seed_gives_the_same_data_and_another_seed_other_data(fake_server):
    first = fake_server(FakeGitHub(seed=7).app)
    again = fake_server(FakeGitHub(seed=7).app)
    other = fake_server(FakeGitHub(seed=8).app)

    def shas(server):
        return [c["sha"] for c in api(server, "/repos/acme/repo-001/commits").json()]

    assert shas(first) == shas(again) != shas(other)


# --- issues and pull requests ------------------------------------------------------------


def test_issues_include_pull_requests_numbered_together(github_server):
    items = api(github_server, "/repos/acme/repo-000/issues", state="all").json()
    pulls = api(github_server, "/repos/acme/repo-000/pulls", state="all").json()

    assert sorted(item["number"] for item in items) == list(range(1, 16))
    pull_items = {item["number"] for item in items if "pull_request" in item}
    assert pull_items == {pull["number"] for pull in pulls} and len(pull_items) == 5
    item = next(item for item in items if "pull_request" in item)
    assert set(item["pull_request"]) == {"url", "html_url", "diff_url", "patch_url", "merged_at"}


def test_pygithub_sees_pull_request_items_in_issues(github_server):
    issues = list(pygithub(github_server).get_repo("acme/repo-000").get_issues(state="all"))

    assert sum(1 for issue in issues if issue.pull_request is not None) == 5


def test_issues_default_to_open_newest_first(github_server):
    items = api(github_server, "/repos/acme/repo-000/issues").json()

    assert items and {item["state"] for item in items} == {"open"}
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)


def test_about_a_third_of_issues_are_bugs_some_with_a_severity(fake_server):
    server = fake_server(FakeGitHub(repositories=1, issues=200, pulls=0).app)

    items = []
    for page in (1, 2):
        items += api(
            server, "/repos/acme/repo-000/issues", state="all", per_page=100, page=page
        ).json()
    bugs = api(
        server, "/repos/acme/repo-000/issues", state="all", labels="bug", per_page=100
    ).json()

    labels = [{label["name"] for label in item["labels"]} for item in items]
    assert 0.2 <= sum("bug" in names for names in labels) / len(items) <= 0.4
    assert all("bug" in {label["name"] for label in item["labels"]} for item in bugs)
    severities = {name for names in labels for name in names if name.startswith("severity: ")}
    assert severities == {"severity: critical", "severity: high", "severity: low"}


def test_issue_since_filters_on_updated_at(github_upstream, github_server):
    changed = github_upstream.update_issue("acme/repo-000", 3, title="Renamed")

    items = api(
        github_server, "/repos/acme/repo-000/issues", state="all", since=changed["updated_at"]
    )

    assert [item["number"] for item in items.json()] == [3]
    assert items.json()[0]["title"] == "Renamed"


def test_closing_an_issue_sets_closed_at_and_state_reason(github_upstream, github_server):
    number = github_upstream.add_issue("acme/repo-000", "Crash on start", labels=["bug"])
    github_upstream.update_issue("acme/repo-000", number, state="closed")

    issue = api(github_server, f"/repos/acme/repo-000/issues/{number}").json()

    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert issue["closed_at"] == issue["updated_at"] > issue["created_at"]
    assert [label["name"] for label in issue["labels"]] == ["bug"]


def test_pulls_default_to_open(github_server):
    pulls = api(github_server, "/repos/acme/repo-000/pulls").json()
    every = api(github_server, "/repos/acme/repo-000/pulls", state="all").json()

    assert {pull["state"] for pull in pulls} <= {"open"}
    assert len(every) == 5


def test_pull_has_githubs_fields(github_server):
    pull = api(github_server, "/repos/acme/repo-000/pulls", state="all").json()[0]

    assert set(pull) >= {
        "id", "node_id", "number", "state", "title", "body", "user", "draft", "created_at",
        "updated_at", "closed_at", "merged_at", "merge_commit_sha", "head", "base",
        "requested_reviewers", "labels", "html_url", "url",
    }  # fmt: skip
    assert set(pull["head"]) >= {"label", "ref", "sha"}
    assert pull["base"]["ref"] == "main"


def test_merging_a_pull_shows_in_the_pull_and_its_issue_item(github_upstream, github_server):
    number = github_upstream.add_pull("acme/repo-000", "Add feature")
    merged = github_upstream.update_pull("acme/repo-000", number, merged=True)

    pull = api(github_server, f"/repos/acme/repo-000/pulls/{number}").json()
    item = api(github_server, f"/repos/acme/repo-000/issues/{number}").json()

    assert pull["state"] == "closed" and pull["merged_at"] == merged["merged_at"]
    assert item["state"] == "closed" and item["pull_request"]["merged_at"] == pull["merged_at"]


def test_pulls_sort_by_updated_ascending(github_server):
    pulls = api(github_server, "/repos/acme/repo-000/pulls", state="all", sort="updated",
                direction="asc").json()  # fmt: skip

    updated = [pull["updated_at"] for pull in pulls]
    assert updated == sorted(updated)


def test_an_invalid_state_is_422(github_server):
    assert api(github_server, "/repos/acme/repo-000/issues", state="maybe").status_code == 422


# --- GitHub Actions ----------------------------------------------------------------------

RUNS = "/repos/acme/repo-000/actions/runs"


def test_runs_come_newest_first_in_githubs_envelope_with_link_paging(github_server):
    response = api(github_server, RUNS, per_page=5)

    body = response.json()
    assert body["total_count"] == 12
    assert len(body["workflow_runs"]) == 5
    created = [run["created_at"] for run in body["workflow_runs"]]
    assert created == sorted(created, reverse=True)
    assert "page=3" in response.links["last"]["url"]


def test_a_filtered_runs_list_is_a_search_capped_at_its_limit(fake_server):
    server = fake_server(FakeGitHub(repositories=1, runs=12, runs_search_limit=5).app)
    everything = api(server, RUNS, per_page=100).json()["workflow_runs"]
    oldest = everything[-1]["created_at"]

    searched = api(server, RUNS, created=f">={oldest}", per_page=100).json()

    assert len(everything) == 12  # unfiltered: not a search, never capped
    assert searched["total_count"] == 12
    assert len(searched["workflow_runs"]) == 5


def test_a_created_range_selects_both_ends_inclusively(github_server):
    runs = api(github_server, RUNS, per_page=100).json()["workflow_runs"]
    newest, second = runs[0]["created_at"], runs[1]["created_at"]

    window = api(github_server, RUNS, created=f"{second}..{newest}").json()

    assert [run["created_at"] for run in window["workflow_runs"]] == [newest, second]


# --- primary rate limit ----------------------------------------------------------------


def test_rate_headers_count_down_per_token(github_server):
    first = api(github_server, "/repos/acme/repo-000")
    second = api(github_server, "/repos/acme/repo-000/commits")

    assert first.headers["X-RateLimit-Limit"] == "5000"
    assert first.headers["X-RateLimit-Remaining"] == "4999"
    assert second.headers["X-RateLimit-Remaining"] == "4998"
    assert second.headers["X-RateLimit-Used"] == "2"
    assert second.headers["X-RateLimit-Resource"] == "core"
    reset = int(second.headers["X-RateLimit-Reset"])
    assert time.time() + 3500 < reset <= time.time() + 3600


def test_pygithub_reads_the_rate_headers(github_server):
    client = pygithub(github_server)
    client.get_repo("acme/repo-000")

    assert client.rate_limiting == (4999, 5000)


def test_rate_limit_endpoint_does_not_count(github_upstream, github_server):
    api(github_server, "/user")

    answer = api(github_server, "/rate_limit").json()
    again = api(github_server, "/rate_limit").json()

    assert answer["resources"]["core"]["remaining"] == again["rate"]["remaining"] == 4999
    assert again["resources"]["core"]["used"] == 1
    assert github_upstream.counted_requests[TOKEN] == 1


def test_exhausted_budget_is_403_with_githubs_message(github_upstream, github_server):
    github_upstream.set_rate_limit(TOKEN, remaining=1)
    api(github_server, "/user")

    response = api(github_server, "/user")

    assert response.status_code == 403
    assert response.json() == {
        "message": "API rate limit exceeded for user ID 1.",
        "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
    }
    assert response.headers["X-RateLimit-Remaining"] == "0"
    with pytest.raises(github.RateLimitExceededException):
        pygithub(github_server).get_repo("acme/repo-000")


def test_budget_refills_once_the_reset_time_passed(github_upstream, github_server):
    github_upstream.set_rate_limit(TOKEN, limit=100, remaining=0, reset_at=time.time() - 1)

    response = api(github_server, "/user")

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "99"
    assert int(response.headers["X-RateLimit-Reset"]) > time.time()


def test_budgets_are_per_token(github_upstream, github_server):
    github_upstream.issue_token("ghp_other")
    github_upstream.set_rate_limit(TOKEN, remaining=0)

    assert api(github_server, "/user").status_code == 403
    assert api(github_server, "/user", token="ghp_other").status_code == 200


def test_without_rate_limiting_there_are_no_rate_headers(fake_server):
    server = fake_server(FakeGitHub(rate_limit=None).app)

    response = api(server, "/repos/acme/repo-000")

    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]
    assert api(server, "/rate_limit").status_code == 404


def test_raw_rate_headers_are_sent_as_told(github_upstream, github_server):
    github_upstream.rate_headers_override = {"X-RateLimit-Limit": "0", "X-RateLimit-Reset": "1"}

    response = api(github_server, "/user")

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "0"
    assert response.headers["X-RateLimit-Reset"] == "1"


# --- conditional requests ---------------------------------------------------------------


def test_matching_if_none_match_is_304_and_free(github_upstream, github_server):
    first = api(github_server, "/repos/acme/repo-000/commits")
    headers = {"Authorization": f"token {TOKEN}", "If-None-Match": first.headers["ETag"]}

    second = requests.get(
        f"{github_server.url}/repos/acme/repo-000/commits", headers=headers, timeout=5
    )

    assert first.headers["ETag"].startswith('W/"')
    assert second.status_code == 304 and second.content == b""
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]
    assert github_upstream.not_modified[TOKEN] == 1
    assert github_upstream.counted_requests[TOKEN] == 1


def test_changed_data_gets_a_new_etag_and_counts(github_upstream, github_server):
    first = api(github_server, "/repos/acme/repo-000/commits")
    github_upstream.add_commit("acme/repo-000")
    headers = {"Authorization": f"token {TOKEN}", "If-None-Match": first.headers["ETag"]}

    second = requests.get(
        f"{github_server.url}/repos/acme/repo-000/commits", headers=headers, timeout=5
    )

    assert second.status_code == 200
    assert second.headers["ETag"] != first.headers["ETag"]
    assert github_upstream.counted_requests[TOKEN] == 2


def test_etag_depends_on_the_query(github_server):
    page_one = api(github_server, "/repos/acme/repo-000/commits", per_page=10)
    page_two = api(github_server, "/repos/acme/repo-000/commits", per_page=10, page=2)

    assert page_one.headers["ETag"] != page_two.headers["ETag"]


# --- secondary limits, concurrency, credentials -----------------------------------------


def test_secondary_limit_is_403_with_retry_after_then_passes(github_upstream, github_server):
    github_upstream.secondary_limit(count=1, retry_after=7)

    limited = api(github_server, "/user")
    after = api(github_server, "/user")

    assert limited.status_code == 403
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit.")
    assert limited.json()["documentation_url"].endswith("#about-secondary-rate-limits")
    assert after.status_code == 200


def test_secondary_limit_can_be_429_without_retry_after(github_upstream, github_server):
    github_upstream.secondary_limit(count=2, retry_after=None, status=429)

    statuses = [api(github_server, "/user") for _ in range(3)]

    assert [response.status_code for response in statuses] == [429, 429, 200]
    assert "Retry-After" not in statuses[0].headers


def test_pygithub_recognises_the_secondary_limit(github_upstream, github_server):
    github_upstream.secondary_limit()

    with pytest.raises(github.RateLimitExceededException):
        pygithub(github_server).get_user().login  # noqa: B018 (the request)


def test_concurrent_requests_for_one_token_are_seen(fake_server):
    fake = FakeGitHub(latency=0.2)
    server = fake_server(fake.app)
    barrier = threading.Barrier(3)

    def call() -> None:
        barrier.wait()
        api(server, "/user")

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fake.max_in_flight[TOKEN] >= 2


def test_sequential_requests_have_one_in_flight(github_upstream, github_server):
    for _ in range(3):
        api(github_server, "/user")

    assert github_upstream.max_in_flight[TOKEN] == 1


def test_revoked_token_is_401_bad_credentials(github_upstream, github_server):
    github_upstream.revoke_token(TOKEN)

    response = api(github_server, "/user")

    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
    assert response.json()["documentation_url"] == "https://docs.github.com/rest"
    with pytest.raises(github.BadCredentialsException):
        pygithub(github_server).get_user().login  # noqa: B018 (the request)


def test_missing_credentials_are_401(github_server):
    response = requests.get(f"{github_server.url}/user", timeout=5)

    assert response.status_code == 401
    assert response.json()["message"] == "Requires authentication"


def test_bearer_tokens_are_accepted(github_server):
    headers = {"Authorization": f"Bearer {TOKEN}"}

    response = requests.get(f"{github_server.url}/user", headers=headers, timeout=5)

    assert response.json()["login"] == "octocat"


# --- OAuth -----------------------------------------------------------------------------


def authorize(server, **overrides: str) -> requests.Response:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "repo,read:org",
        "state": "s-123",
        **overrides,
    }
    return requests.get(
        f"{server.url}/login/oauth/authorize", params=params, allow_redirects=False, timeout=5
    )


def code_from(response: requests.Response) -> str:
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def exchange(server, code: str, secret: str = CLIENT_SECRET) -> dict[str, Any]:
    form = {
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "code": code,
        "redirect_uri": REDIRECT_URI,
    }
    headers = {"Accept": "application/json"}
    url = f"{server.url}/login/oauth/access_token"
    return requests.post(url, data=form, headers=headers, timeout=5).json()


def test_authorize_redirects_back_with_a_code_and_the_state(github_upstream, github_server):
    response = authorize(github_server)

    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert parse_qs(location.query)["state"] == ["s-123"]
    assert github_upstream.last_authorize["scope"] == "repo,read:org"
    assert github_upstream.last_authorize["state"] == "s-123"


def test_authorize_with_an_unknown_client_is_400(github_server):
    assert authorize(github_server, client_id="someone-else").status_code == 400


def test_code_exchanges_for_a_token_the_api_accepts(github_upstream, github_server):
    answer = exchange(github_server, code_from(authorize(github_server)))

    assert answer["token_type"] == "bearer"
    assert answer["scope"] == "repo,read:org"
    assert answer["access_token"].startswith("gho_")
    assert answer["access_token"] in github_upstream.issued_tokens
    user = api(github_server, "/user", token=answer["access_token"])
    assert user.json()["login"] == "octocat"
    assert user.headers["X-OAuth-Scopes"] == "repo, read:org"


def test_a_code_works_once(github_server):
    code = code_from(authorize(github_server))
    exchange(github_server, code)

    answer = exchange(github_server, code)

    assert answer["error"] == "bad_verification_code"


def test_a_wrong_client_secret_gets_no_token(github_server):
    answer = exchange(github_server, code_from(authorize(github_server)), secret="wrong")

    assert "access_token" not in answer
    assert answer["error"] == "incorrect_client_credentials"


def test_deleting_the_grant_revokes_the_token(github_server):
    token = exchange(github_server, code_from(authorize(github_server)))["access_token"]

    response = requests.delete(
        f"{github_server.url}/applications/{CLIENT_ID}/grant",
        auth=(CLIENT_ID, CLIENT_SECRET),
        json={"access_token": token},
        timeout=5,
    )

    assert response.status_code == 204
    assert api(github_server, "/user", token=token).status_code == 401


def test_deleting_a_grant_needs_the_client_secret(github_server):
    token = exchange(github_server, code_from(authorize(github_server)))["access_token"]

    response = requests.delete(
        f"{github_server.url}/applications/{CLIENT_ID}/grant",
        auth=(CLIENT_ID, "wrong"),
        json={"access_token": token},
        timeout=5,
    )

    assert response.status_code == 401
    assert api(github_server, "/user", token=token).status_code == 200


class SettingsStrategy(BaseStrategy):
    """The least a social-core strategy needs to drive one backend outside Django."""

    def __init__(self, settings: dict[str, Any], data: dict[str, Any]) -> None:
        super().__init__()
        self.settings = settings
        self.data = data

    def get_setting(self, name: str) -> Any:
        return self.settings[name]

    def get_request_data(self, merge: bool = True) -> dict[str, Any]:
        return self.data

    def build_absolute_uri(self, path: str | None = None) -> str:
        return f"http://hub.test{path or '/'}"


def test_social_core_github_enterprise_backend_completes_against_the_fake(github_server):
    settings = {
        "SOCIAL_AUTH_GITHUB_ENTERPRISE_URL": github_server.url,
        "SOCIAL_AUTH_GITHUB_ENTERPRISE_API_URL": github_server.url,
        "SOCIAL_AUTH_GITHUB_ENTERPRISE_KEY": CLIENT_ID,
        "SOCIAL_AUTH_GITHUB_ENTERPRISE_SECRET": CLIENT_SECRET,
        "SOCIAL_AUTH_GITHUB_ENTERPRISE_SCOPE": ["repo", "read:org"],
    }
    params = {}
    backend = GithubEnterpriseOAuth2(SettingsStrategy(settings, params), REDIRECT_URI)
    query = {**backend.auth_params("s-1"), **backend.get_scope_argument()}
    url = backend.authorization_url()
    redirect = requests.get(url, params=query, allow_redirects=False, timeout=5)
    params.update(parse_qs(urlsplit(redirect.headers["Location"]).query))
    params["code"] = params["code"][0]

    answer = backend.request_access_token(
        backend.access_token_url(),
        data=backend.auth_complete_params("s-1"),
        headers=backend.auth_headers(),
        method="POST",
    )
    user = backend.user_data(answer["access_token"])

    assert answer["scope"] == "repo,read:org"
    assert user["login"] == "octocat" and user["id"] == 1
    assert user["email"] == "octocat@example.com"


# --- size ------------------------------------------------------------------------------


def test_a_benchmark_size_fake_answers_at_once(fake_server):
    fake = FakeGitHub(repositories=100, commits=1_000, issues=200, pulls=100)
    server = fake_server(fake.app)

    commits = api(server, "/repos/acme/repo-099/commits", per_page=100)
    repositories = api(server, "/orgs/acme/repos", per_page=100)

    assert commits.status_code == 200 and len(commits.json()) == 100
    assert "page=10" in commits.links["last"]["url"]
    assert len(repositories.json()) == 100
    assert sum(repo.commits is not None for repo in fake.repositories.values()) == 1


def test_the_fake_serves_from_a_child_process():
    options = {"repositories": 100, "commits": 1_000, "branches": ["main", "develop"]}

    with FakeServer.start_in_subprocess("tests.fakes.github:create_app", options=options) as server:
        branches = api(server, "/repos/acme/repo-042/branches").json()
        state = requests.get(f"{server.url}/_fake/github/state", timeout=5).json()

    assert [branch["name"] for branch in branches] == ["develop", "main"]
    assert state["counted_requests"] == {TOKEN: 1}
