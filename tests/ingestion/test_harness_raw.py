"""Raw payloads: kept per natural key, rewritten only on change, and enough to rebuild rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from ingestion.harness import delete_expired_raw_records, renormalize, run_sync
from ingestion.models import RawRecord
from tests.ingestion.memory_streams import (
    repository_record,
)
from tracking.models import Repository

pytestmark = pytest.mark.django_db


def test_raw_payload_of_every_record_is_kept(repositories):
    repositories.records = [repository_record(n) for n in range(5)]

    run = run_sync(repositories)

    raw = RawRecord.objects.get(external_id="3")
    assert raw.payload == repository_record(3)
    assert raw.run == run
    assert RawRecord.objects.count() == 5


def test_unchanged_payload_is_not_rewritten(repositories):
    repositories.records = [repository_record(1)]
    first = run_sync(repositories)

    run_sync(repositories, full=True)

    assert RawRecord.objects.get().run == first


def test_changed_payload_replaces_the_kept_one(repositories):
    repositories.records = [repository_record(1)]
    run_sync(repositories)
    repositories.records = [repository_record(1, version=1)]

    second = run_sync(repositories, full=True)

    raw = RawRecord.objects.get()
    assert raw.payload == repository_record(1, version=1)
    assert raw.run == second


@override_settings(INGEST_KEEP_RAW=False)
def test_nothing_is_kept_when_raw_keeping_is_off(repositories):
    repositories.records = [repository_record(1)]

    run_sync(repositories)

    assert not RawRecord.objects.exists()


def test_renormalize_rebuilds_rows_from_raw_without_fetching(repositories):
    repositories.records = [repository_record(n) for n in range(1500)]
    run_sync(repositories)
    Repository.objects.filter(external_id__in=["3", "1400"]).delete()
    Repository.objects.filter(external_id="5").update(
        description="edited by hand", raw_signature=""
    )
    calls = repositories.fetch_calls

    (run,) = renormalize("test", "repositories")

    assert repositories.fetch_calls == calls
    assert run.from_raw
    assert (run.fetched, run.created, run.updated, run.unchanged) == (1500, 2, 1, 1497)
    assert Repository.objects.get(external_id="5").description == "Widget 5, revision 0"
    assert Repository.objects.count() == 1500


@override_settings(INGEST_RAW_RETENTION_DAYS=90)
def test_raw_records_past_retention_are_deleted(repositories):
    repositories.records = [repository_record(1), repository_record(2)]
    run_sync(repositories)
    RawRecord.objects.filter(external_id="1").update(
        fetched_at=timezone.now() - dt.timedelta(days=91)
    )

    deleted = delete_expired_raw_records()

    assert deleted == 1
    assert list(RawRecord.objects.values_list("external_id", flat=True)) == ["2"]
