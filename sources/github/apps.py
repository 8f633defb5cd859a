from django.apps import AppConfig


class GitHubConfig(AppConfig):
    name = "sources.github"
    label = "github"
    verbose_name = "GitHub"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the credentials health check.
        from sources.github import health  # noqa: F401
