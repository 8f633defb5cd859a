"""Stream rules the upsert honours: merge fields are unioned, versions never move a row back."""

from __future__ import annotations

import pytest

from ingestion.harness import run_sync
from tests.ingestion.memory_streams import (
    commit_record,
    repository_record,
)
from tracking.models import Commit, Repository

pytestmark = pytest.mark.django_db


def test_commit_seen_on_a_second_branch_keeps_the_first(three_repositories, commits):
    commits.records = [commit_record(1, repositories=3, branch="main")]
    run_sync(commits)
    commits.records = [commit_record(1, repositories=3, branch="release")]

    run = run_sync(commits, full=True)

    assert run.updated == 1
    assert Commit.objects.get(external_id=f"{1:040x}").branches == ["main", "release"]


def test_commit_seen_again_on_a_known_branch_is_unchanged(three_repositories, commits):
    commits.records = [commit_record(1, repositories=3, branch="main")]
    run_sync(commits)
    commits.records = [commit_record(1, repositories=3, branch="release")]
    run_sync(commits, full=True)
    commits.records = [commit_record(1, repositories=3, branch="main")]

    run = run_sync(commits, full=True)

    assert (run.updated, run.unchanged) == (0, 1)
    assert Commit.objects.get(external_id=f"{1:040x}").branches == ["main", "release"]


def test_older_version_never_moves_a_row_back(repositories):
    repositories.records = [repository_record(5, version=3)]
    run_sync(repositories)
    repositories.records = [repository_record(5, version=1)]

    run = run_sync(repositories, full=True)

    assert (run.updated, run.unchanged) == (0, 1)
    assert Repository.objects.get(external_id="5").description == "Widget 5, revision 3"


def test_newer_version_replaces_the_row(repositories):
    repositories.records = [repository_record(5, version=1)]
    run_sync(repositories)
    repositories.records = [repository_record(5, version=3)]

    run = run_sync(repositories, full=True)

    assert run.updated == 1
    assert Repository.objects.get(external_id="5").description == "Widget 5, revision 3"
