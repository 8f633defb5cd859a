"""Create or update the pipeline's django-q2 Schedules; running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from ingestion.jobs import default_cluster


@dataclass(frozen=True)
class PipelineSchedule:
    name: str
    func: str
    schedule_type: str
    cron: str | None = None
    minutes: int | None = None


def pipeline_schedules() -> list[PipelineSchedule]:
    return [
        PipelineSchedule(
            name="ingestion: daily sync of every stream",
            func="ingestion.tasks.fan_out_syncs_task",
            schedule_type=Schedule.CRON,
            cron=settings.INGEST_SYNC_CRON,
        ),
        PipelineSchedule(
            name="ingestion: weekly reconciliation (rows deleted upstream)",
            func="ingestion.tasks.reconcile_task",
            schedule_type=Schedule.CRON,
            cron=settings.INGEST_RECONCILE_CRON,
        ),
        PipelineSchedule(
            name="ingestion: daily cleanup",
            func="ingestion.tasks.cleanup_task",
            schedule_type=Schedule.CRON,
            cron="30 3 * * *",
        ),
        PipelineSchedule(
            name="ingestion: sweeper (stale, lost and due jobs)",
            func="ingestion.tasks.sweep_task",
            schedule_type=Schedule.MINUTES,
            minutes=1,
        ),
    ]


def ensure_schedules() -> list[tuple[str, bool]]:
    """Create each schedule by name, or bring an existing one up to date. (name, created)."""
    results = []
    for wanted in pipeline_schedules():
        fields = {
            "func": wanted.func,
            "schedule_type": wanted.schedule_type,
            "cron": wanted.cron,
            "minutes": wanted.minutes,
            "repeats": -1,
            # The default cluster runs the schedules; the sweeper sends jobs to their own cluster.
            "cluster": default_cluster(),
        }
        schedule = Schedule.objects.filter(name=wanted.name).first()
        if schedule is None:
            schedule = Schedule(name=wanted.name, next_run=timezone.now(), **fields)
            if wanted.schedule_type == Schedule.CRON:
                # The first run at the next cron time, not now.
                schedule.next_run = schedule.calculate_next_run()
            schedule.full_clean()
            schedule.save()
            results.append((wanted.name, True))
            continue
        changed = {k: v for k, v in fields.items() if getattr(schedule, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(schedule, key, value)
            if "cron" in changed:
                schedule.next_run = schedule.calculate_next_run(timezone.now())
            schedule.full_clean()
            schedule.save()
        results.append((wanted.name, False))
    return results


class Command(BaseCommand):
    help = "Create the pipeline's django-q2 schedules (daily sync, daily cleanup, sweeper)."

    def handle(self, *args, **options) -> None:
        for name, created in ensure_schedules():
            verb = "created" if created else "up to date"
            self.stdout.write(f"{name}: {verb}")
