"""github/repositories: the token's and its organisations' repositories, or GITHUB_REPOS."""

from __future__ import annotations

import pytest

from ingestion.errors import PermanentError, TransientError
from ingestion.models import SyncState
from tests.fakes.github import FakeGitHub
from tracking.models import Project, Repository

pytestmark = pytest.mark.django_db


def test_a_full_sync_stores_every_repository_with_its_github_fields(github):
    run = github.sync("repositories")

    assert run.status == "succeeded"
    assert run.created == 3
    stored = Repository.objects.get(full_name="acme/repo-000")
    upstream = github.upstream.repositories["acme/repo-000"].json
    assert stored.external_id == str(upstream["id"])
    assert stored.default_branch == upstream["default_branch"]
    assert stored.html_url == upstream["html_url"]
    assert stored.owner == "acme"


def test_a_repository_listed_by_the_user_and_by_its_organisation_is_stored_once(github):
    run = github.sync("repositories")

    # /user/repos and /orgs/acme/repos both list the three repositories.
    assert run.fetched == 3
    assert Repository.objects.count() == 3


def test_forks_and_archives_are_left_out_when_the_settings_say_so(settings, fake_server):
    upstream = FakeGitHub(repositories=6, commits=1, issues=0, pulls=0)
    settings.GITHUB_API_URL = fake_server(upstream.app).url
    settings.GITHUB_TOKEN = "ghp_test"
    settings.GITHUB_ORGS = ["acme"]
    settings.GITHUB_INCLUDE_FORKS = False
    settings.GITHUB_INCLUDE_ARCHIVED = False
    from ingestion.harness import run_sync
    from ingestion.streams import get_stream

    run_sync(get_stream("github", "repositories"))

    stored = Repository.objects.all()
    assert stored.count() == sum(
        1 for r in upstream.repositories.values() if not r.json["fork"] and not r.json["archived"]
    )
    assert not stored.filter(is_fork=True).exists()
    assert not stored.filter(is_archived=True).exists()


def test_github_repos_syncs_exactly_the_repositories_named(github, settings):
    settings.GITHUB_REPOS = ["acme/repo-001"]

    run = github.sync("repositories")

    assert run.status == "succeeded"
    assert list(Repository.objects.values_list("full_name", flat=True)) == ["acme/repo-001"]


def test_a_named_repository_that_github_does_not_have_fails_with_its_name(github, settings):
    settings.GITHUB_REPOS = ["acme/repo-001", "acme/gone"]

    with pytest.raises(PermanentError, match="acme/gone"):
        github.sync("repositories")

    # The one before it was committed and stays.
    assert Repository.objects.filter(full_name="acme/repo-001").exists()


def test_a_repository_is_linked_to_the_project_with_its_github_url(github):
    project = Project.objects.create(name="Repo one", github_url="github.com/ACME/repo-001")

    github.sync("repositories")

    assert Repository.objects.get(full_name="acme/repo-001").project == project
    assert Repository.objects.get(full_name="acme/repo-000").project is None


def test_an_unchanged_listing_is_answered_304_and_costs_no_budget(github):
    github.sync("repositories")
    counted = github.counted()

    run = github.sync("repositories")

    assert run.status == "succeeded"
    assert run.fetched == 0
    assert github.counted() == counted
    assert github.upstream.not_modified["ghp_test"] == 2  # /user/repos and /orgs/acme/repos
    assert SyncState.objects.get(source="github", entity="repositories").etags


def test_a_new_repository_upstream_is_added_by_the_next_sync(github):
    github.sync("repositories")
    github.upstream.add_repository("new-service")

    run = github.sync("repositories")

    assert run.created == 1
    assert Repository.objects.filter(full_name="acme/new-service").exists()


def test_a_full_sync_ignores_the_remembered_etags(github):
    github.sync("repositories")
    counted = github.counted()

    run = github.sync("repositories", full=True)

    assert run.fetched == 3
    assert run.unchanged == 3
    assert github.counted() == counted + 2


def test_the_etags_of_a_failed_run_are_not_kept(github, settings):
    settings.GITHUB_RETRIES = 0
    github.server.faults.set(rate=1.0, kinds=["http_503"], path="^/orgs/acme/repos$")
    with pytest.raises(TransientError):
        github.sync("repositories")
    assert SyncState.objects.get(source="github", entity="repositories").etags == {}
    github.server.faults.clear()

    run = github.sync("repositories")

    # Nothing answered 304: the failed run's first list is asked for in full again.
    assert github.upstream.not_modified["ghp_test"] == 0
    assert run.fetched == 3


def test_every_named_repository_github_has_is_synced_even_after_a_missing_one(github, settings):
    settings.GITHUB_REPOS = ["acme/gone", "acme/repo-002"]

    with pytest.raises(PermanentError, match="acme/gone"):
        github.sync("repositories")

    assert Repository.objects.filter(full_name="acme/repo-002").exists()
    settings.GITHUB_REPOS = ["acme/repo-002"]
    assert github.sync("repositories").status == "succeeded"
