"""Admin of the pipeline, one module per topic."""

from ingestion.admin import breaker, jobs, sync, webhooks  # noqa: F401
