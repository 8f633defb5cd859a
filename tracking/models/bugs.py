"""Bugs, their human numbers, and the engineering hours logged against them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models, transaction
from django.utils import timezone

from tracking.choices import (
    BUG_DONE_STATUSES,
    BugSource,
    BugStatus,
    Priority,
    ProjectSource,
    Severity,
)
from tracking.models.base import Provenance, natural_key_constraint
from tracking.models.people import Identity, Person
from tracking.models.projects import Project

# Hours to resolve a bug, by severity, when nobody sets an SLA of their own.
DEFAULT_SLA_HOURS = {
    Severity.CRITICAL: 24,
    Severity.HIGH: 72,
    Severity.MEDIUM: 168,
    Severity.LOW: 720,
}


def now_to_the_second() -> dt.datetime:
    """Forms show times to the second; a default with microseconds would change on every
    admin save (and with it the due time and the audit trail)."""
    return timezone.now().replace(microsecond=0)


class BugNumberSequence(models.Model):
    """The last bug number handed out in one month (YYYYMM)."""

    month = models.CharField(max_length=6, primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "bug number sequence"

    def __str__(self) -> str:
        return f"{self.month}: {self.last_value}"


def format_bug_number(month: str, value: int) -> str:
    return f"BUG-{month}-{value:04d}"


def allocate_bug_numbers(created_at: dt.datetime, count: int = 1) -> list[str]:
    """Reserve `count` consecutive numbers in the month of `created_at` (UTC).

    One atomic upsert on the month's counter row: concurrent callers queue on
    that row's lock (PostgreSQL) or on the database write lock (SQLite), so two
    bugs created at the same moment never get the same number. Call it inside
    the transaction that saves the bugs: a rollback gives the numbers back.
    """
    if count < 1:
        return []
    month = created_at.astimezone(dt.UTC).strftime("%Y%m")
    table = connection.ops.quote_name(BugNumberSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (month, last_value) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (month) DO UPDATE "
            f"SET last_value = {table}.last_value + excluded.last_value "
            "RETURNING last_value",
            [month, count],
        )
        (last,) = cursor.fetchone()
    return [format_bug_number(month, value) for value in range(last - count + 1, last + 1)]


def reserve_bug_numbers(numbers: Iterable[str]) -> None:
    """Move each month's counter past the numbers given (bugs imported with the numbers
    they had elsewhere), so `allocate_bug_numbers` never hands one of them out again."""
    highest: dict[str, int] = {}
    for number in numbers:
        _prefix, month, value = number.split("-")
        highest[month] = max(highest.get(month, 0), int(value))
    if not highest:
        return
    table = connection.ops.quote_name(BugNumberSequence._meta.db_table)
    larger = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (month, last_value) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (month) DO UPDATE "
            f"SET last_value = {larger}({table}.last_value, excluded.last_value)",
            sorted(highest.items()),
        )


class BugQuerySet(models.QuerySet):
    def live(self) -> BugQuerySet:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> BugQuerySet:
        return self.filter(deleted_at__isnull=False)

    def breached(self, now: dt.datetime | None = None) -> BugQuerySet:
        """Bugs open past their due time or resolved late: the rows `is_breached` flags."""
        now = now or timezone.now()
        open_past_due = ~models.Q(status__in=BUG_DONE_STATUSES) & models.Q(due_at__lt=now)
        resolved_late = models.Q(status__in=BUG_DONE_STATUSES) & models.Q(
            resolved_at__gt=models.F("due_at")
        )
        return self.live().filter(open_past_due | resolved_late)


class Bug(Provenance):
    number = models.CharField(
        max_length=20, unique=True, editable=False, help_text="BUG-YYYYMM-NNNN, assigned on save."
    )
    source = models.CharField(max_length=20, choices=BugSource.choices, default=BugSource.MANUAL)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    severity = models.CharField(
        max_length=20, choices=Severity.choices, default=Severity.MEDIUM, db_index=True
    )
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(
        max_length=20, choices=BugStatus.choices, default=BugStatus.OPEN, db_index=True
    )
    original_status = models.CharField(
        max_length=100, blank=True, default="", help_text="The status as the source named it."
    )
    sla_hours = models.PositiveIntegerField(
        "SLA hours",
        null=True,
        blank=True,
        validators=[MinValueValidator(1, "The SLA must be at least 1 hour.")],
        help_text="Hours allowed to resolve it; empty takes the default for its severity.",
    )
    due_at = models.DateTimeField(editable=False, db_index=True)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.PROTECT, related_name="bugs"
    )
    assignee = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_bugs"
    )
    assignee_identity = models.ForeignKey(
        Identity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_bugs",
        help_text="The account the source named as assignee.",
    )
    reporter = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_bugs"
    )
    reporter_identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_bugs"
    )
    url = models.URLField("URL", max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=now_to_the_second, help_text="When it was reported.")
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = BugQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            natural_key_constraint("tracking_bug", optional=True),
            models.CheckConstraint(
                condition=models.Q(sla_hours__isnull=True) | models.Q(sla_hours__gt=0),
                name="tracking_bug_sla_positive",
                violation_error_message="The SLA must be at least 1 hour.",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="tracking_bug_updated"),
            models.Index(fields=["created_at", "id"], name="tracking_bug_created"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_bug_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}" if self.number else self.title

    @property
    def effective_sla_hours(self) -> int:
        return self.sla_hours or DEFAULT_SLA_HOURS[Severity(self.severity)]

    @property
    def is_done(self) -> bool:
        return self.status in BUG_DONE_STATUSES

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_breached(self) -> bool:
        """Resolved late, or still open past its due time."""
        if self.due_at is None:
            return False
        finished = self.resolved_at if self.is_done else None
        return (finished or timezone.now()) > self.due_at

    def refresh_derived_fields(self) -> None:
        """Due time and resolution time follow from the other fields.

        Bulk writers (imports, the ingestion harness) call this per row, because
        bulk_create does not call save().
        """
        self.due_at = self.created_at + dt.timedelta(hours=self.effective_sla_hours)
        if self.is_done and self.resolved_at is None:
            self.resolved_at = timezone.now()
        elif not self.is_done:
            self.resolved_at = None

    def clean(self) -> None:
        self.title = self.title.strip()
        if not self.title:
            raise ValidationError({"title": "A bug needs a title."})
        if self.resolved_at and self.created_at and self.resolved_at < self.created_at:
            raise ValidationError(
                {"resolved_at": "A bug cannot be resolved before it was created."}
            )

    def save(self, *args, **kwargs) -> None:
        self.refresh_derived_fields()
        self.updated_at = timezone.now()
        if self.number:
            super().save(*args, **kwargs)
            return
        try:
            with transaction.atomic():
                (self.number,) = allocate_bug_numbers(self.created_at)
                super().save(*args, **kwargs)
        except BaseException:
            # The rollback gave the number back to the month's counter; keeping it
            # here would make a retried save reuse a number the next bug also gets.
            self.number = ""
            raise

    def soft_delete(self) -> None:
        """Deleting a bug keeps the row: reports, hours and audit stay whole."""
        if self.deleted_at is None:
            self.deleted_at = timezone.now()
            self.save(update_fields=["deleted_at", "updated_at"])

    def restore(self) -> None:
        if self.deleted_at is not None:
            self.deleted_at = None
            self.save(update_fields=["deleted_at", "updated_at"])


def validate_hours(value: Decimal) -> None:
    if value is not None and value <= 0:
        raise ValidationError("Hours must be more than 0.", code="hours_not_positive")


class EngineeringHours(Provenance):
    """Time a person spent on a bug or a project on one day."""

    source = models.CharField(
        max_length=20, choices=ProjectSource.choices, default=ProjectSource.MANUAL
    )
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="hours")
    bug = models.ForeignKey(
        Bug, null=True, blank=True, on_delete=models.PROTECT, related_name="hours"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.PROTECT, related_name="hours"
    )
    date = models.DateField(default=dt.date.today, db_index=True)
    hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        validators=[
            validate_hours,
            MaxValueValidator(24, "No more than 24 hours fit in one entry."),
        ],
    )
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = "engineering hours"
        verbose_name_plural = "engineering hours"
        constraints = [
            natural_key_constraint("tracking_engineeringhours", optional=True),
            models.CheckConstraint(
                condition=models.Q(hours__gt=0) & models.Q(hours__lte=24),
                name="tracking_hours_between_0_and_24",
                violation_error_message="Hours must be more than 0 and at most 24.",
            ),
            models.CheckConstraint(
                condition=models.Q(bug__isnull=False) | models.Q(project__isnull=False),
                name="tracking_hours_bug_or_project",
                violation_error_message="Log hours against a bug or a project.",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="tracking_hours_updated"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_hours_seen"),
        ]

    def __str__(self) -> str:
        target = self.bug.number if self.bug_id else (self.project or "")
        return f"{self.hours} h by {self.person} on {self.date} ({target})"

    def clean(self) -> None:
        if self.bug_id is None and self.project_id is None:
            # On a field, so that full_clean and model forms skip the check
            # constraint that says the same, and the message shows once.
            raise ValidationError(
                {"project": ValidationError("Log hours against a bug or a project.", "no_target")}
            )
        if self.bug_id is not None:
            bug_project_id = self.bug.project_id
            if self.project_id is None:
                self.project_id = bug_project_id
            elif bug_project_id is not None and bug_project_id != self.project_id:
                raise ValidationError(
                    {"project": f"Bug {self.bug.number} belongs to project {self.bug.project}."}
                )

    def save(self, *args, **kwargs) -> None:
        if self.bug_id is not None and self.project_id is None:
            self.project_id = self.bug.project_id
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)
