from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from tracking.admin.base import AuditedAdmin
from tracking.admin.imports import ImportExportMixin
from tracking.models import Identity, Person


class IdentityInline(admin.TabularInline):
    model = Identity
    fields = ("source", "external_id", "username", "display_name", "email", "is_bot")
    readonly_fields = ("source", "external_id")
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        # Identities come from the sources (or the Identity page); here they are linked.
        return False


@admin.register(Person)
class PersonAdmin(ImportExportMixin, AuditedAdmin):
    import_type = "people"
    list_display = ("name", "email", "identity_count", "updated_at")
    search_fields = ("name", "email", "identities__username", "identities__email")
    date_hierarchy = "created_at"
    inlines = [IdentityInline]

    def get_queryset(self, request):
        # One COUNT per page of people, not one per row.
        return super().get_queryset(request).annotate(accounts=Count("identities", distinct=True))

    @admin.display(description="Accounts", ordering="accounts")
    def identity_count(self, obj: Person) -> int:
        return obj.accounts

    def get_search_results(self, request, queryset, search_term):
        queryset, _may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Searching across identities can match one person twice.
        return queryset.distinct(), False


@admin.register(Identity)
class IdentityAdmin(AuditedAdmin):
    list_display = (
        "username",
        "display_name",
        "source",
        "email",
        "person",
        "is_bot",
        "last_seen_at",
    )
    list_filter = ("source", "is_bot", "is_deactivated")
    search_fields = ("username", "display_name", "email", "external_id")
    autocomplete_fields = ("person",)
    date_hierarchy = "first_seen_at"
    readonly_fields = ("first_seen_at", "last_seen_at")
