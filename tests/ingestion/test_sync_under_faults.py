"""Reliability: a sync through a faulty upstream ends with the rows of a fault-free one.

The upstream is the records fake (tests/fakes/records.py) over real HTTP; the
stream is `fake/records` (tests/fakes/records_stream.py), which retries like
the real source clients: a bounded number of attempts with backoff, honouring
Retry-After, then TransientError for the job layer. When a run gives up, the
test runs it again, as the job layer does, and it resumes from its checkpoint.
"""

from __future__ import annotations

import pytest
from django.db.models import Sum

from ingestion.choices import RunStatus
from ingestion.errors import TransientError
from ingestion.harness import run_sync
from ingestion.models import RawRecord, RejectedRecord, SyncRun, SyncState
from tests.fakes.faults import ALL_FAULT_KINDS
from tests.fakes.records import RecordsUpstream
from tests.fakes.records_stream import FakeRecordsStream
from tracking.models import Identity, Issue, Person

pytestmark = pytest.mark.django_db


RECORDS = 1000
PAGE_SIZE = 25
# With this seed the 40 pages meet every fault kind, and no request fails six times running.
FAULT_SEED = 4
CLIENT_TIMEOUT = 0.5
STALL_SECONDS = 1.0


def sync_until_done(stream, progress=None) -> int:
    """Run the sync until a run succeeds; returns how many runs gave up on the way."""
    gave_up = 0
    for _ in range(20):
        try:
            run_sync(stream, "", progress=progress)
            return gave_up
        except TransientError:
            gave_up += 1
    pytest.fail("the sync never finished")


def synced_rows() -> list[tuple]:
    """What a user would see: every synced issue with its assignee and their person."""
    return list(
        Issue.objects.filter(source="fake")
        .order_by("external_id")
        .values_list(
            "external_id",
            "key",
            "number",
            "title",
            "status",
            "original_status",
            "created_at",
            "updated_at",
            "raw_signature",
            "assignee__external_id",
            "assignee__username",
            "assignee__email",
            "assignee__person__email",
        )
    )


def start_from_an_empty_database() -> None:
    Issue.objects.filter(source="fake").delete()
    Identity.objects.filter(source="fake").delete()
    Person.objects.all().delete()
    for model in (SyncState, SyncRun, RawRecord, RejectedRecord):
        model.objects.filter(source="fake").delete()


@pytest.fixture
def reference_rows(fake_server) -> list[tuple]:
    """The rows of a fault-free sync of the same records, on a second fake; then an empty DB."""
    server = fake_server(RecordsUpstream(RECORDS, seed=3).app)
    stream = FakeRecordsStream()
    stream.base_url = server.url
    stream.page_size = PAGE_SIZE
    run_sync(stream, "")
    rows = synced_rows()
    assert len(rows) == RECORDS
    start_from_an_empty_database()
    return rows


@pytest.fixture
def faulty_server(fake_server, records_stream):
    server = fake_server(RecordsUpstream(RECORDS, seed=3).app)
    records_stream.base_url = server.url
    records_stream.page_size = PAGE_SIZE
    records_stream.timeout = CLIENT_TIMEOUT
    records_stream.max_retries = 5
    return server


@pytest.mark.slow
def test_a_sync_with_a_fifth_of_requests_failing_lands_the_same_rows(
    faulty_server, records_stream, reference_rows
):
    faulty_server.faults.set(
        rate=0.2, kinds=ALL_FAULT_KINDS, seed=FAULT_SEED, retry_after=1, stall_seconds=STALL_SECONDS
    )

    gave_up = sync_until_done(records_stream)

    assert synced_rows() == reference_rows
    assert set(faulty_server.faults.counts) == {str(kind) for kind in ALL_FAULT_KINDS}
    assert gave_up == 0


@pytest.mark.slow
def test_every_retry_and_request_under_faults_is_counted_on_the_runs(faulty_server, records_stream):
    faulty_server.faults.set(
        rate=0.2, kinds=ALL_FAULT_KINDS, seed=FAULT_SEED, retry_after=1, stall_seconds=STALL_SECONDS
    )

    sync_until_done(records_stream)

    totals = SyncRun.objects.filter(source="fake", entity="records").aggregate(
        retries=Sum("retries"), requests=Sum("requests")
    )
    assert totals["retries"] == faulty_server.faults.total > 0
    assert totals["requests"] == faulty_server.request_count("/records")


@pytest.mark.slow
def test_a_run_that_gives_up_resumes_from_its_checkpoint_with_the_same_rows(
    faulty_server, records_stream, reference_rows
):
    pages_seen = []

    def fail_hard_after_three_pages(run: SyncRun) -> None:
        pages_seen.append(run.pages)
        if len(pages_seen) == 3:
            # One more failure than the stream's retries: this run gives up.
            faulty_server.faults.next("http_503", times=records_stream.max_retries + 1)

    gave_up = sync_until_done(records_stream, progress=fail_hard_after_three_pages)

    assert gave_up == 1
    first, second = SyncRun.objects.filter(source="fake").order_by("pk")
    assert (first.status, second.status) == (RunStatus.FAILED, RunStatus.SUCCEEDED)
    assert (first.fetched, second.fetched) == (3 * PAGE_SIZE, RECORDS - 3 * PAGE_SIZE)
    assert synced_rows() == reference_rows


def test_a_retry_after_too_long_to_wait_is_handed_to_the_job_layer(faulty_server, records_stream):
    faulty_server.faults.set(rate=1.0, kinds=["http_429"], retry_after=120)

    with pytest.raises(TransientError) as raised:
        run_sync(records_stream, "")

    assert raised.value.retry_after == 120
    assert faulty_server.request_count("/records") == 1  # no retry slept through the wait
    assert not Issue.objects.filter(source="fake").exists()
