"""Settings of the hub under benchmarks/webhooks.py: production settings plus the ceiling views.

    DJANGO_SETTINGS_MODULE=benchmarks.webhook_settings .venv/bin/gunicorn config.wsgi ...

Everything is config.settings, as read from the environment (DEBUG off, persistent
database connections, the Redis cache); only the URLconf differs:
benchmarks/webhook_ceiling.py serves config.urls plus the two bare views the
webhook endpoint is compared with.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.webhook_ceiling"
