"""Pipeline state: sync checkpoints, raw records, runs, jobs, breaker, pause."""

from ingestion.models.breaker import *  # noqa: F403
from ingestion.models.imports import *  # noqa: F403
from ingestion.models.jobs import *  # noqa: F403
from ingestion.models.sync import *  # noqa: F403
from ingestion.models.webhooks import *  # noqa: F403
