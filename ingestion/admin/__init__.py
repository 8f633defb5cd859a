"""Admin of the pipeline, one module per topic."""

from ingestion.admin import jobs, sync  # noqa: F401
