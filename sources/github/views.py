"""The "Connect GitHub" page, and the staff-only gates around social-auth's views."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from social_core.exceptions import SocialAuthBaseException
from social_django import views as social_views

from sources.github.connect import disconnect
from sources.github.models import CredentialKind, GitHubCredential
from sources.github.oauth import BACKEND_NAME

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def oauth_configured() -> bool:
    return bool(settings.SOCIAL_AUTH_GITHUB_KEY and settings.SOCIAL_AUTH_GITHUB_SECRET)


@staff_member_required
def connect_page(request: HttpRequest) -> HttpResponse:
    """Every credential the hub knows (never a token), and the Connect button."""
    context = {
        # What the admin's templates expect (site header, sidebar, user links).
        **admin.site.each_context(request),
        "title": "Connect GitHub",
        "credentials": GitHubCredential.objects.select_related("connected_by"),
        "oauth_configured": oauth_configured(),
        "github_token_configured": bool(settings.GITHUB_TOKEN),
        "begin_url": reverse("social:begin", args=[BACKEND_NAME]),
        "github_oauth_url": settings.GITHUB_OAUTH_URL,
        "callback_url": request.build_absolute_uri(reverse("social:complete", args=[BACKEND_NAME])),
    }
    return render(request, "github/connect.html", context)


@staff_member_required
@require_POST
def disconnect_credential(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(GitHubCredential, pk=pk, kind=CredentialKind.OAUTH)
    if not credential.is_active:
        messages.info(request, f"{credential.label} was already disconnected.")
        return redirect("github:connect")
    revoked = disconnect(credential, by_user=request.user)
    if revoked:
        messages.success(request, f"Disconnected {credential.label}; GitHub revoked its access.")
    else:
        messages.warning(
            request,
            f"Disconnected {credential.label}: the hub no longer has its token, but GitHub "
            "did not confirm the revocation. Revoke it under Settings → Applications on "
            "GitHub if it is still listed.",
        )
    return redirect("github:connect")


def staff_oauth_view(view: View) -> View:
    """social-auth's view, for active staff only, with its errors shown on the page.

    Without this, social-auth's views answer anyone, and a failed callback (a
    tampered `state`, a refused code) is a server error.
    """

    @wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        connect_url = reverse("github:connect")
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(connect_url, login_url=reverse("admin:login"))
        if not oauth_configured():
            messages.error(request, "Connecting GitHub needs SOCIAL_AUTH_GITHUB_KEY and _SECRET.")
            return redirect(connect_url)
        try:
            return view(request, *args, **kwargs)
        except SocialAuthBaseException as error:
            # social-core's messages are generic by design (no token, no user data).
            logger.warning("Connecting GitHub failed: %s (%s)", error, error.code)
            messages.error(request, f"Connecting GitHub failed: {error}")
            return redirect(connect_url)

    return guarded


begin = staff_oauth_view(social_views.auth)
complete = staff_oauth_view(social_views.complete)
