"""Deliveries that arrive while no worker runs wait, and are all processed once one starts.

On a real critical cluster (the one webhook jobs run on), over a database the
test shares with it; on the ORM broker, and on Redis when REDIS_URL is set.
"""

from __future__ import annotations

import json
import os

import pytest

from ingestion.choices import DeliveryStatus, JobKind
from ingestion.jobs import CRITICAL_CLUSTER, purge_broker_queues
from ingestion.models import IngestionJob, WebhookDelivery
from tests.ingestion.qcluster_helpers import (
    django_process,
    qcluster,
    shared_database,
    stop,
    use_broker_here,
    wait_for,
)
from tests.webhooks.conftest import GITHUB_SECRET
from tests.webhooks.payloads import github_example, github_signature
from tracking.models import Commit

pytestmark = pytest.mark.slow

DELIVERIES = 30


@pytest.fixture
def critical_cluster(broker, tmp_path, django_db_setup, django_db_blocker, monkeypatch):
    """A database shared with a critical cluster that the test starts when it wants."""
    from django.core.cache import caches

    redis_url = os.environ.get("REDIS_URL", "") if broker == "redis" else ""
    use_broker_here(redis_url, monkeypatch)
    env = {"INGEST_CRITICAL_WORKERS": "1", "REDIS_URL": redis_url}
    processes = []
    with django_db_blocker.unblock(), shared_database(tmp_path) as database_url:
        env["DATABASE_URL"] = database_url
        purge_broker_queues()
        caches["default"].clear()

        def start() -> None:
            # The cluster's own cache: its database table when it runs without Redis,
            # which this process (on Redis) did not create with the test database.
            django_process(["createcachetable"], env, tmp_path / "cache.log").wait(timeout=60)
            processes.append(qcluster(env, tmp_path / "critical.log", CRITICAL_CLUSTER))

        try:
            yield start
        finally:
            for process in processes:
                stop(process)
            purge_broker_queues()


def push_of_commit(number: int) -> dict:
    payload = github_example("push")
    commit = payload["commits"][0]
    commit["id"] = f"{number:040x}"
    payload["head_commit"] = commit
    return payload


def test_deliveries_sent_while_no_worker_runs_are_all_processed_once_one_starts(
    critical_cluster, client
):
    for number in range(DELIVERIES):
        body = json.dumps(push_of_commit(number)).encode()
        response = client.post(
            "/api/webhooks/github",
            body,
            content_type="application/json",
            headers={
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": f"while-down-{number}",
                "X-Hub-Signature-256": github_signature(GITHUB_SECRET, body),
            },
        )
        assert response.status_code == 202
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == DELIVERIES
    assert IngestionJob.objects.filter(kind=JobKind.WEBHOOK).count() == 1

    critical_cluster()

    wait_for(
        lambda: not WebhookDelivery.objects.exclude(status=DeliveryStatus.PROCESSED).exists(),
        timeout=60,
        what="every delivery to be processed",
    )
    assert Commit.objects.count() == DELIVERIES
