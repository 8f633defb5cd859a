from django.apps import AppConfig


class JiraConfig(AppConfig):
    name = "sources.jira"
    label = "jira"
    verbose_name = "Jira"
    default_auto_field = "django.db.models.BigAutoField"
