"""Key lookups of the load stage are served by the natural-key index, partial ones included."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion import load
from tracking.models import Bug, Commit

pytestmark = pytest.mark.django_db


def query_plan(model, keys: list[str]) -> str:
    with CaptureQueriesContext(connection) as captured:
        load.rows_by_keys(model, {"source": "github"}, keys, ["id", "external_id"])
    (query,) = captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
@pytest.mark.parametrize("model", [Bug, Commit])
def test_a_key_lookup_searches_the_natural_key_index_instead_of_scanning(model):
    plan = query_plan(model, ["MDU6SXNzdWUx", "MDU6SXNzdWUy"])

    assert "INDEX" in plan
    assert "(source=? AND external_id=?)" in plan
    assert "SCAN" not in plan
