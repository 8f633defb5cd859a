"""Push 200,000 synthetic commits through the real harness and print records/s.

    .venv/bin/python benchmarks/harness.py --database sqlite
    .venv/bin/python benchmarks/harness.py --database postgres \\
        --postgres-url postgres://postgres@127.0.0.1:5432/hub_bench

Each run gets a fresh database (an SQLite file in a temporary folder, or the
named PostgreSQL database, dropped and created again). The stream is
`test/commits` from tests/ingestion/memory_streams.py: records come from memory;
each names its repository (a Ref) and its author (an IdentityRef with an email),
so every page resolves references and identities as a real source's would.
Raw keeping is on. Pages are 1,000 records.

Measured: first ingest, an unchanged re-ingest and a 10 %-changed re-ingest (all
`full=True`, so every record is read), next to the raw ceiling of the same rows
(PostgreSQL: psycopg COPY into a bare table; SQLite: executemany in one transaction).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"first ingest": 20_000, "unchanged": 60_000, "10% changed": 40_000}


def timed_sync(stream, label: str, count: int) -> float:
    from ingestion.harness import run_sync

    started = time.perf_counter()
    run = run_sync(stream, full=True)
    elapsed = time.perf_counter() - started
    assert run.fetched == count and not run.counts_mismatch, run
    print(
        f"  {label:<14} {count / elapsed:>9,.0f} rec/s  ({elapsed:5.1f} s; created {run.created}, "
        f"updated {run.updated}, unchanged {run.unchanged})",
        flush=True,
    )
    return count / elapsed


def raw_ceiling() -> float:
    """The same rows written the fastest way the database allows, into a bare table."""
    from django.db import connection, transaction

    from tracking.models import Commit

    fields = [
        f
        for f in Commit._meta.concrete_fields
        if not f.primary_key  # the bare table has no id, no index, no constraint
    ]
    columns = [f.column for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM tracking_commit")
        rows = cursor.fetchall()
        column_types = ", ".join(f"{f.column} {f.db_type(connection)}" for f in fields)
        cursor.execute("DROP TABLE IF EXISTS bench_ceiling")
        cursor.execute(f"CREATE TABLE bench_ceiling ({column_types})")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY bench_ceiling ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO bench_ceiling VALUES ({placeholders})", rows)
    elapsed = time.perf_counter() - started
    rate = len(rows) / elapsed
    print(f"  {'raw ceiling':<14} {rate:>9,.0f} rec/s  ({elapsed:5.1f} s)", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/hub_bench")
    parser.add_argument("--records", type=int, default=200_000)
    arguments = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.django_setup import fresh_django

    with fresh_django(arguments.database, arguments.postgres_url):
        from ingestion.harness import run_sync
        from tests.ingestion.memory_streams import (
            commit_record,
            commits_stream,
            repositories_stream,
            repository_record,
        )

        repositories = repositories_stream()
        repositories.records = [repository_record(n) for n in range(100)]
        run_sync(repositories)
        commits = commits_stream()
        count = arguments.records
        commits.records = [commit_record(n, repositories=100) for n in range(count)]

        print(f"{arguments.database}: {count:,} records, pages of 1,000, raw keeping on")
        rates = {"first ingest": timed_sync(commits, "first ingest", count)}
        rates["unchanged"] = timed_sync(commits, "unchanged", count)
        for n in range(0, count, 10):
            commits.records[n] = commit_record(n, repositories=100, version=1)
        rates["10% changed"] = timed_sync(commits, "10% changed", count)
        ceiling = raw_ceiling()
        print(f"  first ingest / raw ceiling: {rates['first ingest'] / ceiling:.2f}")
        for label, target in TARGETS.items():
            verdict = "meets" if rates[label] >= target else "MISSES"
            print(f"  {label:<14} {verdict} the target of {target:,} rec/s")


if __name__ == "__main__":
    main()
