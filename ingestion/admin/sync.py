"""Admin for sync state, runs, raw and rejected records."""
