"""What an operator touches: the sync and renormalize commands and the rejected-records admin."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from ingestion.models import RejectedRecord
from tests.ingestion.memory_streams import (
    commit_record,
    repository_record,
)
from tracking.models import Commit, Repository

pytestmark = pytest.mark.django_db


def test_sync_command_prints_a_line_per_page_and_the_counts(repositories, capsys):
    repositories.records = [repository_record(n) for n in range(1500)]

    call_command("sync", "test", "repositories")

    out = capsys.readouterr().out
    assert "page 1: 1000 fetched" in out
    assert "page 2: 1500 fetched" in out
    assert "succeeded" in out
    assert "1500 created" in out
    assert Repository.objects.count() == 1500


def test_sync_command_fails_with_the_upstream_error(repositories):
    repositories.records = [repository_record(n) for n in range(1500)]
    repositories.fail_after_pages = 1

    with pytest.raises(CommandError, match="Sync failed: upstream answered 503"):
        call_command("sync", "test", "repositories")


def test_sync_command_names_the_known_streams_for_an_unknown_one():
    with pytest.raises(CommandError, match=r"Known streams: .*test/commits"):
        call_command("sync", "nope", "things")


def test_renormalize_command_rebuilds_from_raw(repositories, capsys):
    repositories.records = [repository_record(n) for n in range(3)]
    call_command("sync", "test", "repositories")
    Repository.objects.filter(external_id="1").delete()

    call_command("renormalize", "test", "repositories")

    assert "3 raw records, 1 created" in capsys.readouterr().out
    assert Repository.objects.count() == 3


def test_rejected_records_are_listed_in_the_admin(staff_client, commits):
    commits.records = [commit_record(1)]
    call_command("sync", "test", "commits")

    response = staff_client.get(reverse("admin:ingestion_rejectedrecord_changelist"))

    assert response.status_code == 200
    assert "Missing reference" in response.content.decode()


def test_admin_action_retries_normalization(staff_client, repositories, commits):
    commits.records = [commit_record(1)]
    call_command("sync", "test", "commits")
    repositories.records = [repository_record(1)]
    call_command("sync", "test", "repositories")
    rejected = RejectedRecord.objects.get()

    response = staff_client.post(
        reverse("admin:ingestion_rejectedrecord_changelist"),
        {"action": "retry_normalization", "_selected_action": [rejected.pk]},
        follow=True,
    )

    assert "1 loaded, 0 still rejected" in response.content.decode()
    assert Commit.objects.filter(source="test").count() == 1
