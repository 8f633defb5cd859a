"""Admin of the pipeline, one module per topic."""

from ingestion.admin import breaker, imports, jobs, sync, webhooks  # noqa: F401
