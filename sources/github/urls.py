"""URLs under /github/: the Connect GitHub page and the OAuth round trip.

Only social-auth's begin (POST) and complete views are exposed, wrapped for staff;
its own disconnect view is not (sources.github.connect.disconnect also revokes the
grant and marks the credential). They keep social-auth's `social` namespace, which
its views reverse (`social:complete`).
"""

from __future__ import annotations

from django.urls import include, path

from sources.github import views

connect_patterns = [
    path("connect", views.connect_page, name="connect"),
    path("connect/<int:pk>/disconnect", views.disconnect_credential, name="disconnect"),
]

oauth_patterns = [
    path("login/<str:backend>/", views.begin, name="begin"),
    path("complete/<str:backend>/", views.complete, name="complete"),
]

urlpatterns = [
    path("", include((connect_patterns, "github"))),
    path("oauth/", include((oauth_patterns, "social"))),
]
