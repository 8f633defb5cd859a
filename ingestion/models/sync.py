"""Sync checkpoints, runs, raw and rejected records."""

__all__: list[str] = []
