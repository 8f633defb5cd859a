from django.apps import AppConfig


class JiraConfig(AppConfig):
    name = "sources.jira"
    label = "jira"
    verbose_name = "Jira"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the site health check.
        from sources.jira import health  # noqa: F401
