"""`manage.py renormalize <source> <entity>`: rebuild a stream's rows from kept raw payloads."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.errors import IngestionError
from ingestion.harness import renormalize
from ingestion.streams import UnknownStream


class Command(BaseCommand):
    help = "Re-normalize a stream from its raw records, without calling the upstream."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source")
        parser.add_argument("entity")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            runs = renormalize(options["source"], options["entity"])
        except UnknownStream as error:
            raise CommandError(str(error)) from None
        except IngestionError as error:
            raise CommandError(f"Renormalize failed: {error}") from None
        if not runs:
            self.stdout.write("No raw records kept for this stream: nothing to rebuild.")
        for run in runs:
            scope = f" [{run.scope}]" if run.scope else ""
            self.stdout.write(
                f"Run {run.pk}{scope} {run.status}: {run.fetched} raw records, "
                f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
                f"{run.rejected} rejected."
            )
