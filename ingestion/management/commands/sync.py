"""`manage.py sync <source> <entity> [--scope S] [--full] [--enqueue] [--reconcile]`: one sync,
now; or, with --reconcile, mark the rows whose upstream record is gone as deleted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.choices import JobPriority
from ingestion.errors import Deferred, IngestionError, PermanentError
from ingestion.harness import run_sync
from ingestion.jobs import enqueue_sync
from ingestion.models import SyncRun
from ingestion.reconcile import check_reconcilable, reconcile
from ingestion.redaction import redact
from ingestion.streams import Stream, UnknownStream, get_stream


class Command(BaseCommand):
    help = "Sync one stream now (a line per page, then the counts), or queue it with --enqueue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="github, jira, slack, …")
        parser.add_argument("entity", help="commits, issues, …")
        parser.add_argument("--scope", default="", help="A repository, Jira project or channel.")
        parser.add_argument("--full", action="store_true", help="Re-read everything.")
        parser.add_argument(
            "--enqueue", action="store_true", help="Queue a job for the workers instead."
        )
        parser.add_argument(
            "--reconcile",
            action="store_true",
            help="Instead of syncing, list what the upstream still has in the scope (every "
            "configured scope without --scope) and mark the stored rows missing from it as "
            "deleted.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source, entity, scope = options["source"], options["entity"], options["scope"]
        try:
            stream = get_stream(source, entity)
        except UnknownStream as error:
            raise CommandError(str(error)) from None
        if options["reconcile"]:
            if options["enqueue"] or options["full"]:
                raise CommandError("--reconcile runs now, alone: leave out --enqueue and --full.")
            self._reconcile(stream, scope)
            return
        if options["enqueue"]:
            self._enqueue(source, entity, scope, options["full"])
            return
        try:
            run = run_sync(stream, scope, full=options["full"], progress=self._progress)
        except Deferred as deferred:
            raise CommandError(
                redact(
                    f"Sync stopped at its last checkpoint: {deferred} Run it again in "
                    f"{deferred.seconds:.0f} s or later; it resumes from there."
                )
            ) from None
        except IngestionError as error:
            # A terminal is a log too: an upstream error may echo a token.
            raise CommandError(redact(f"Sync failed: {error}")) from None
        self.stdout.write(self._summary(run))

    def _reconcile(self, stream: Stream, scope: str) -> None:
        try:
            check_reconcilable(stream)
        except PermanentError as error:
            raise CommandError(str(error)) from None
        scopes = [scope] if scope or not stream.scoped else stream.configured_scopes()
        if not scopes:
            raise CommandError(f"{stream.name} has no configured scopes: give one with --scope.")
        failed = []
        for each in scopes:
            try:
                self.stdout.write(f"Reconciled {reconcile(stream, each, actor='cli')}.")
            except IngestionError as error:
                failed.append(each)
                self.stderr.write(redact(f"Reconciling {stream.name} {each} failed: {error}"))
        if failed:
            raise CommandError(f"Reconciliation failed for {', '.join(failed)}.")

    def _enqueue(self, source: str, entity: str, scope: str, full: bool) -> None:
        job = enqueue_sync(
            source, entity, scope=scope, full=full, priority=JobPriority.HIGH, created_by="cli"
        )
        self.stdout.write(f"Queued job {job.pk} for {source}/{entity}.")

    def _progress(self, run: SyncRun) -> None:
        self.stdout.write(
            f"page {run.pages}: {run.fetched} fetched, {run.created} created, "
            f"{run.updated} updated, {run.unchanged} unchanged, {run.rejected} rejected"
        )
        self.stdout.flush()

    def _summary(self, run: SyncRun) -> str:
        line = (
            f"Run {run.pk} {run.status} in {run.duration_seconds:.1f} s: "
            f"{run.fetched} fetched, {run.created} created, {run.updated} updated, "
            f"{run.unchanged} unchanged, {run.rejected} rejected; "
            f"{run.pages} pages, {run.requests} requests, {run.retries} retries."
        )
        if run.counts_mismatch:
            line += " WARNING: the counts do not add up."
        return line
