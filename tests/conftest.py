"""Shared fixtures: the three kinds of caller every permission test needs."""

from __future__ import annotations

import os

import pytest
from django.db import connection

# Fake upstream servers (tests/fakes/) for every test that talks HTTP.
pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.jira.fixtures"]


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` run only when the suite runs against PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def encryption_key_for_child_processes():
    """Child processes started with SECRET_KEY set (a "deployment") refuse to start
    without HUB_ENCRYPTION_KEY; they get this process's key, so they can also read
    what it encrypted."""
    from django.conf import settings

    os.environ.setdefault("HUB_ENCRYPTION_KEY", settings.HUB_ENCRYPTION_KEY)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", password="staff-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user(username="plain", password="plain-pass-123")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def plain_client(client, plain_user):
    client.force_login(plain_user)
    return client


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(params=["orm", "redis"])
def broker(request) -> str:
    """Each broker a real cluster may run on: the ORM one, and Redis when REDIS_URL is set."""
    if request.param == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("set REDIS_URL to run on the Redis broker too")
    return request.param


@pytest.fixture
def database_shared_by_threads(tmp_path, django_db_setup, django_db_blocker):
    """Worker threads need one committed database they all reach, as worker processes
    do: a fresh one (on SQLite a file, whose locking is what a deployment gets)."""
    from tests.ingestion.qcluster_helpers import shared_database

    with django_db_blocker.unblock(), shared_database(tmp_path):
        yield


@pytest.fixture
def empty_broker():
    """No task left in the broker by an earlier test: the Redis broker is not rolled
    back with the test database."""
    from ingestion.jobs import purge_broker_queues

    purge_broker_queues()
