"""A stream whose behaviour the job tests choose through its scope, for any process.

Importing this module registers `jobtest/repositories`, writing tracking.Repository
rows. The scope says what the upstream does, so a qcluster subprocess that imports
this module behaves exactly as the test asked:

- "ok" (or "ok-N"): N pages (default 1) of one repository each;
- "fail-K": a TransientError (Retry-After 1 s) on the first K fetches, then ok;
- "fail-always": a TransientError on every fetch;
- "permanent": a PermanentError naming the credential to fix;
- "slow-N": N pages, each taking 0.3 s (long enough to kill a worker mid-run);
- "busy-<label>": one page taking 0.2 s (a worker kept busy by a queue of such jobs,
  one scope, hence one stream lock, per label);
- "pause-N": N pages; someone pauses the pipeline while the second page is fetched.

Fetch counts per scope live in files under $JOBTEST_STATE_DIR, so they survive
across worker processes.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingestion.errors import PermanentError, TransientError
from ingestion.streams import FetchContext, Page, Row, Stream, register
from tracking.models import Repository

SOURCE = "jobtest"
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SLOW_PAGE_SECONDS = 0.3
BUSY_SECONDS = 0.2


def state_dir() -> Path:
    path = Path(os.environ.get("JOBTEST_STATE_DIR", tempfile.gettempdir()))
    path.mkdir(parents=True, exist_ok=True)
    return path


def count_fetch(scope: str) -> int:
    """Count one fetch of `scope`; returns how many there were, this one included."""
    counter = state_dir() / f"fetches-{scope}"
    fetches = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(fetches))
    return fetches


def fetches(scope: str) -> int:
    counter = state_dir() / f"fetches-{scope}"
    return int(counter.read_text()) if counter.exists() else 0


def _pages_in(scope: str) -> int:
    _, _, number = scope.rpartition("-")
    return int(number) if number.isdigit() else 1


@register
class ScriptedRepositoriesStream(Stream):
    source = SOURCE
    entity = "repositories"
    model = Repository
    scoped = True

    def configured_scopes(self) -> list[str]:
        return ["ok-1", "ok-2"]

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        scope = context.scope
        attempt = count_fetch(scope)
        if scope == "permanent":
            raise PermanentError("GitHub rejected JOBTEST_TOKEN (401): set a valid token.")
        if scope == "fail-always":
            raise TransientError("upstream answered 503", retry_after=1)
        if scope.startswith("fail-") and attempt <= _pages_in(scope):
            raise TransientError("upstream answered 503", retry_after=1)
        if scope.startswith("busy"):
            time.sleep(BUSY_SECONDS)
        pages = _pages_in(scope) if scope.startswith(("ok", "slow", "pause")) else 1
        start = context.cursor["page"] if context.cursor else 0
        for page in range(start, pages):
            if scope.startswith("slow"):
                time.sleep(SLOW_PAGE_SECONDS)
            if scope.startswith("pause") and page == 1 and attempt == 1:
                from ingestion.jobs import pause_pipeline

                pause_pipeline(by="job_streams")
            more = page + 1 < pages
            yield Page(
                records=[{"id": f"{scope}:{page}", "name": f"{scope}-{page}"}],
                next_cursor={"page": page + 1} if more else None,
            )

    def natural_key(self, record: dict[str, Any]) -> str:
        return record["id"]

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return [
            Row(
                Repository,
                {
                    "full_name": f"jobtest/{record['name']}",
                    "owner": "jobtest",
                    "name": record["name"],
                    "updated_at": EPOCH,
                },
            )
        ]
