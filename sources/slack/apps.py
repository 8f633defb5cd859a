from django.apps import AppConfig


class SlackConfig(AppConfig):
    name = "sources.slack"
    label = "slack"
    verbose_name = "Slack"
    default_auto_field = "django.db.models.BigAutoField"
