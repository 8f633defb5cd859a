"""What every tracking admin shares: the audit trail of each change, and its display."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from tracking import audit
from tracking.choices import AuditAction


class AuditedAdmin(admin.ModelAdmin):
    """Writes an AuditLog entry for every change made through the admin.

    The admin's change and delete views run in one transaction, so the entry
    commits or rolls back with the change. Inline rows are audited as objects
    of their own.
    """

    audit_history_limit = 20

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None):
        return (*super().get_readonly_fields(request, obj), "audit_trail")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Taken before the form writes the submitted values onto the instance.
            obj._audit_before = audit.snapshot(obj)
        return obj

    def save_model(self, request: HttpRequest, obj: models.Model, form: ModelForm, change: bool):
        super().save_model(request, obj, form, change)
        audit.record_save(
            obj, getattr(obj, "_audit_before", None) if change else None, user=request.user
        )
        obj._audit_before = audit.snapshot(obj)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        audit.record(obj, AuditAction.DELETE, user=request.user, changes=audit.snapshot(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit.record(
                    obj, AuditAction.DELETE, user=request.user, changes=audit.snapshot(obj)
                )
            super().delete_queryset(request, queryset)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ):
        model = formset.model
        changed_pks = [
            f.instance.pk for f in formset.initial_forms if f.has_changed() and f.instance.pk
        ]
        before = {
            obj.pk: audit.snapshot(obj) for obj in model._default_manager.filter(pk__in=changed_pks)
        }
        for deleted_form in formset.deleted_forms:
            if deleted_form.instance.pk:
                instance = deleted_form.instance
                audit.record(
                    instance,
                    AuditAction.DELETE,
                    user=request.user,
                    changes=audit.snapshot(instance),
                )
        super().save_formset(request, form, formset, change)
        for instance in formset.new_objects:
            audit.record_save(instance, None, user=request.user)
        for instance, _fields in formset.changed_objects:
            audit.record_save(instance, before.get(instance.pk), user=request.user)

    @admin.display(description="Audit trail")
    def audit_trail(self, obj: models.Model | None) -> str:
        if obj is None or obj.pk is None:
            return "—"
        entries = list(audit.history(obj, self.audit_history_limit))
        if not entries:
            return "No changes recorded yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    entry.actor,
                    entry.get_action_display(),
                    describe_changes(entry.changes),
                )
                for entry in entries
            ),
        )
        full_list = (
            reverse("admin:tracking_auditlog_changelist")
            + "?"
            + urlencode(
                {"content_type__id__exact": entries[0].content_type_id, "object_id": str(obj.pk)}
            )
        )
        return format_html(
            '<table class="audit-trail"><thead><tr><th>When</th><th>Who</th><th>Action</th>'
            "<th>Changes</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">Full audit history</a></p>',
            rows,
            full_list,
        )


def describe_changes(changes: dict[str, Any]) -> str:
    """ "status: open → resolved; sla_hours: 24 → 48" for a person reading the admin."""
    parts = []
    for name, values in sorted(changes.items()):
        if isinstance(values, list) and len(values) == 2:
            old, new = values
            parts.append(f"{name}: {_short(old)} → {_short(new)}")
        else:
            parts.append(f"{name}: {_short(values)}")
    return "; ".join(parts) or "—"


def _short(value: Any) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= 80 else text[:77] + "…"
