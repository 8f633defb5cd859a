"""Bugs (with soft delete, restore and bulk actions) and engineering hours."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import ngettext

from tracking import audit
from tracking.admin.base import AuditedAdmin
from tracking.admin.imports import ImportExportMixin
from tracking.choices import AuditAction, BugStatus
from tracking.models import Bug, EngineeringHours, Person


class DeletedFilter(admin.SimpleListFilter):
    """Deleted bugs are hidden unless asked for: they are kept, not gone."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("yes", "Deleted"), ("all", "All"))

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not deleted",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset: QuerySet[Bug]) -> QuerySet[Bug]:
        if self.value() == "yes":
            return queryset.deleted()
        if self.value() == "all":
            return queryset
        return queryset.live()


class BreachedFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return (("breached", "Breached (open past due or resolved late)"),)

    def queryset(self, request, queryset: QuerySet[Bug]) -> QuerySet[Bug]:
        if self.value() == "breached":
            return queryset.breached()
        return queryset


class BugActionForm(ActionForm):
    """The action bar gains the values the bulk actions apply."""

    status = forms.ChoiceField(
        choices=[("", "— status —"), *BugStatus.choices], required=False, label="Status"
    )
    assignee = forms.ModelChoiceField(
        queryset=Person.objects.all(), required=False, label="Assignee", empty_label="— assignee —"
    )


class HoursInline(admin.TabularInline):
    model = EngineeringHours
    fields = ("person", "date", "hours", "note")
    autocomplete_fields = ("person",)
    extra = 1


@admin.register(Bug)
class BugAdmin(ImportExportMixin, AuditedAdmin):
    import_type = "bugs"
    list_display = (
        "number",
        "title",
        "severity",
        "priority",
        "status",
        "project",
        "assignee",
        "due_at",
        "breached",
        "source",
        "created_at",
    )
    list_filter = (
        DeletedFilter,
        BreachedFilter,
        "status",
        "severity",
        "priority",
        "source",
        "project",
    )
    search_fields = ("number", "title", "description", "external_id")
    autocomplete_fields = (
        "project",
        "assignee",
        "assignee_identity",
        "reporter",
        "reporter_identity",
    )
    date_hierarchy = "created_at"
    list_select_related = ("project", "assignee")
    inlines = [HoursInline]
    action_form = BugActionForm
    actions = ["set_status", "assign", "soft_delete_selected", "restore_selected"]
    readonly_fields = (
        "number",
        "source",
        "external_id",
        "original_status",
        "due_at",
        "breached",
        "resolved_at",
        "deleted_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("number", "title", "description", "project")}),
        (
            "Triage",
            {
                "fields": (
                    "severity",
                    "priority",
                    "status",
                    "original_status",
                    "assignee",
                    "reporter",
                )
            },
        ),
        ("SLA", {"fields": ("sla_hours", "created_at", "due_at", "breached", "resolved_at")}),
        (
            "Source",
            {
                "classes": ("collapse",),
                "fields": (
                    "source",
                    "external_id",
                    "url",
                    "assignee_identity",
                    "reporter_identity",
                ),
            },
        ),
        ("History", {"fields": ("deleted_at", "updated_at", "audit_trail")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bug]:
        # Deleted bugs stay reachable here, to be seen and restored (DeletedFilter hides them).
        return super().get_queryset(request)

    @admin.display(boolean=True, description="Breached")
    def breached(self, obj: Bug) -> bool:
        return obj.is_breached

    # --- deleting keeps the row ------------------------------------------------
    def delete_model(self, request: HttpRequest, obj: Bug) -> None:
        obj.soft_delete()
        audit.record(
            obj,
            AuditAction.DELETE,
            user=request.user,
            changes={"deleted_at": [None, audit.json_safe(obj.deleted_at)]},
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bug]) -> None:
        with transaction.atomic():
            for bug in queryset.live():
                self.delete_model(request, bug)

    def get_deleted_objects(self, objs, request: HttpRequest):
        # The confirmation page must not claim that hours will go: nothing is removed.
        kept = [f"{bug} (kept and marked deleted; it can be restored)" for bug in objs]
        return kept, {"bugs": len(kept)}, set(), []

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- bulk actions ------------------------------------------------------------
    @admin.action(
        description="Set status of selected bugs (choose the status beside)", permissions=["change"]
    )
    def set_status(self, request: HttpRequest, queryset: QuerySet[Bug]) -> None:
        status = request.POST.get("status", "")
        if status not in BugStatus.values:
            self.message_user(request, "Choose a status to set.", messages.ERROR)
            return
        changed = self._apply(request, queryset, status=status)
        self.message_user(
            request,
            ngettext("%(n)d bug set to %(s)s.", "%(n)d bugs set to %(s)s.", changed)
            % {"n": changed, "s": BugStatus(status).label},
        )

    @admin.action(
        description="Assign selected bugs (choose the assignee beside)", permissions=["change"]
    )
    def assign(self, request: HttpRequest, queryset: QuerySet[Bug]) -> None:
        try:
            person = BugActionForm.base_fields["assignee"].clean(request.POST.get("assignee"))
        except ValidationError:
            person = None
        if person is None:
            self.message_user(request, "Choose an assignee.", messages.ERROR)
            return
        changed = self._apply(request, queryset, assignee=person)
        self.message_user(
            request,
            ngettext("%(n)d bug assigned to %(p)s.", "%(n)d bugs assigned to %(p)s.", changed)
            % {"n": changed, "p": person},
        )

    @admin.action(
        description="Delete selected bugs (kept, can be restored)", permissions=["delete"]
    )
    def soft_delete_selected(self, request: HttpRequest, queryset: QuerySet[Bug]) -> None:
        live = list(queryset.live())
        self.delete_queryset(request, queryset)
        self.message_user(
            request, ngettext("%d bug deleted.", "%d bugs deleted.", len(live)) % len(live)
        )

    @admin.action(description="Restore selected deleted bugs", permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Bug]) -> None:
        restored = 0
        with transaction.atomic():
            for bug in queryset.deleted():
                before = bug.deleted_at
                bug.restore()
                audit.record(
                    bug,
                    AuditAction.RESTORE,
                    user=request.user,
                    changes={"deleted_at": [audit.json_safe(before), None]},
                )
                restored += 1
        self.message_user(
            request, ngettext("%d bug restored.", "%d bugs restored.", restored) % restored
        )

    def _apply(self, request: HttpRequest, queryset: QuerySet[Bug], **values) -> int:
        """Set fields on each bug through save(), so derived fields and audit stay right."""
        changed = 0
        with transaction.atomic():
            # of=self: list_select_related joins nullable relations, which cannot be locked.
            for bug in queryset.live().select_for_update(of=("self",)):
                before = audit.snapshot(bug)
                for name, value in values.items():
                    setattr(bug, name, value)
                bug.full_clean()
                bug.save()
                if audit.record_save(bug, before, user=request.user):
                    changed += 1
        return changed


@admin.register(EngineeringHours)
class EngineeringHoursAdmin(ImportExportMixin, AuditedAdmin):
    import_type = "hours"
    list_display = ("date", "person", "hours", "bug", "project", "source", "note_preview")
    list_filter = ("source", "project", ("date", admin.DateFieldListFilter))
    search_fields = ("note", "person__name", "bug__number", "project__name")
    autocomplete_fields = ("person", "bug", "project")
    date_hierarchy = "date"
    list_select_related = ("person", "bug", "project")
    readonly_fields = ("source", "external_id", "created_at", "updated_at")

    @admin.display(description="Note")
    def note_preview(self, obj: EngineeringHours) -> str:
        return obj.note[:60]
