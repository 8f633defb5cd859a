"""Which projects and boards the schedule syncs, and a Jira source sync through the jobs."""

from __future__ import annotations

import logging

import pytest

from ingestion import jobs
from ingestion.choices import JobKind, JobStatus
from ingestion.models import IngestionJob
from sources.jira.streams import configured_boards, configured_projects
from tracking.models import Bug, Issue, Sprint

pytestmark = pytest.mark.django_db


def test_the_configured_projects_are_used_as_they_are(jira, settings):
    settings.JIRA_PROJECTS = ["BETA", " ALPHA "]

    assert configured_projects() == ["BETA", "ALPHA"]
    assert jira.server.requests == []


def test_without_a_list_every_project_the_account_may_browse_is_synced(jira):
    assert configured_projects() == ["ALPHA", "BETA"]
    assert jira.count("/rest/api/3/project") == 1


def test_the_configured_boards_are_used_as_they_are(jira, settings):
    settings.JIRA_BOARDS = ["7", "3"]

    assert configured_boards() == ["7", "3"]
    assert jira.server.requests == []


def test_without_a_list_the_scrum_boards_of_the_configured_projects_are_synced(jira, settings):
    assert configured_boards() == ["1", "2"]  # the kanban board 100 has no sprints

    settings.JIRA_PROJECTS = ["BETA"]
    assert configured_boards() == ["2"]


def test_jira_unconfigured_has_no_scopes_and_asks_nothing(jira, settings):
    settings.JIRA_BASE_URL = ""

    assert configured_projects() == configured_boards() == []
    assert jira.server.requests == []


def test_when_jira_cannot_be_asked_the_projects_synced_before_are_used(jira, caplog):
    jira.sync("issues", "BETA")
    jira.server.faults.set(rate=1.0, kinds=["http_503"], path="^/rest/api/3/project$")

    with caplog.at_level(logging.WARNING, logger="ingestion"):
        assert configured_projects() == ["BETA"]

    assert "could not list the Jira projects" in caplog.text


def test_a_source_sync_fans_out_a_job_per_project_and_board_that_load_everything(
    jira, empty_broker
):
    job = jobs.enqueue_source_sync("jira", created_by="test")

    jobs.run_job(job.pk)

    queued = IngestionJob.objects.filter(kind=JobKind.SYNC).order_by("entity", "scope")
    assert list(queued.values_list("entity", "scope")) == [
        ("issues", "ALPHA"),
        ("issues", "BETA"),
        ("sprints", "1"),
        ("sprints", "2"),
    ]
    for sync_job in queued:
        jobs.run_job(sync_job.pk)
    assert set(queued.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert Issue.objects.count() == 60
    assert Sprint.objects.count() == 12
    assert Bug.objects.filter(source="jira").exists()
