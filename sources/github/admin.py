"""Admin for GitHub credentials: read-only, never a token, disconnect as an action."""

from __future__ import annotations

from typing import Any

# Imported first so that its registrations exist to be undone below, whichever of
# social_django and this app comes first in INSTALLED_APPS.
import social_django.admin  # noqa: F401
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from social_django.models import Association, Nonce, UserSocialAuth

from sources.github.connect import disconnect
from sources.github.models import CredentialKind, GitHubCredential

# social-auth's admin shows and edits UserSocialAuth.extra_data, where other setups
# keep tokens, and OpenID tables the hub does not use. The credentials page is the
# one place connected accounts are seen.
for model in (UserSocialAuth, Nonce, Association):
    if admin.site.is_registered(model):
        admin.site.unregister(model)

# Shown, all read-only. Not the token nor its ciphertext, nor the worker lease.
CREDENTIAL_FIELDS = (
    "label",
    "kind",
    "login",
    "scopes",
    "connected_by",
    "connected_at",
    "disconnected_at",
    "broken_at",
    "broken_reason",
    "rate_limit",
    "rate_remaining",
    "rate_used",
    "rate_reset_at",
    "rate_seen_at",
    "blocked_until",
    "requests_made",
    "not_modified",
)


@admin.register(GitHubCredential)
class GitHubCredentialAdmin(admin.ModelAdmin):
    list_display = (
        "label",
        "kind",
        "login",
        "status",
        "rate",
        "rate_reset_at",
        "blocked_until",
        "requests_made",
        "not_modified",
        "connected_at",
    )
    list_filter = ("kind",)
    search_fields = ("label", "login")
    fields = CREDENTIAL_FIELDS
    readonly_fields = CREDENTIAL_FIELDS
    actions = ("disconnect_accounts",)
    change_list_template = "github/credential_change_list.html"

    @admin.display(description="status")
    def status(self, credential: GitHubCredential) -> str:
        return credential.status()

    @admin.display(description="rate remaining / limit")
    def rate(self, credential: GitHubCredential) -> str:
        return credential.rate_summary

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Credentials come from connecting an account (or from GITHUB_TOKEN).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would drop the token without revoking it: disconnect instead.
        return False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Every field is read-only: no Save buttons that would do nothing.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(
        description="Disconnect (revoke on GitHub, forget the token)", permissions=["change"]
    )
    def disconnect_accounts(
        self, request: HttpRequest, queryset: QuerySet[GitHubCredential]
    ) -> None:
        connected = list(queryset.filter(kind=CredentialKind.OAUTH, disconnected_at__isnull=True))
        skipped = queryset.count() - len(connected)
        revoked = not_revoked = 0
        for credential in connected:
            if disconnect(credential, by_user=request.user):
                revoked += 1
            else:
                not_revoked += 1
        if revoked:
            self.message_user(request, f"Disconnected {revoked} account(s); GitHub revoked access.")
        if not_revoked:
            self.message_user(
                request,
                f"Disconnected {not_revoked} account(s), but GitHub did not confirm the "
                "revocation: revoke them under Settings → Applications on GitHub.",
                messages.WARNING,
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped}: already disconnected, or the GITHUB_TOKEN setting "
                "(remove the setting to stop using it).",
                messages.WARNING,
            )
