"""Settings for the hub, read from the environment with django-environ.

Every variable is listed, with its meaning, in `.env.example`. Secrets may also
come from `<NAME>_FILE` (a path to a file holding the value), as container
users expect.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from ingestion.encryption import GENERATE_KEY_COMMAND, generate_key, parse_keys

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded setup: the SQLite database, the generated secret key.
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def secret(name: str, default: str = "") -> str:
    """Read a secret from `NAME`, or from the file named by `NAME_FILE`."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return env.str(name, default=default)


def secret_list(name: str) -> list[str]:
    """Several secrets in one (comma-separated), as while one is rotated: NEW,OLD."""
    return [value.strip() for value in secret(name).split(",") if value.strip()]


def local_secret_key() -> str:
    """A key generated once and kept in var/, so the embedded setup needs no configuration.

    Production deployments set SECRET_KEY; a newcomer running `make run` should
    not have to, and must not get a key that is the same on every machine.
    """
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = secret("SECRET_KEY") or local_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_q",
    "tracking",
    "ingestion",
    "sources.github",
    "sources.jira",
    "sources.slack",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# Default: an SQLite file in the project folder, nothing to install.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'hub.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while a worker writes; IMMEDIATE takes the
        # write lock when a transaction starts instead of failing half-way with
        # "database is locked"; the timeout makes a writer wait for the lock.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
    }
else:
    # Persistent connections: opening one per request costs more than the request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Internationalisation: everything is UTC and timezone-aware -------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

HUB_ADMIN_USER = env.str("HUB_ADMIN_USER", default="admin")
HUB_ADMIN_PASSWORD = secret("HUB_ADMIN_PASSWORD")

# --- Encryption at rest (ingestion/encryption.py) -----------------------------------
# Fernet keys for the secrets the hub stores (connected accounts' OAuth tokens): one key,
# or several comma-separated to rotate (the first encrypts, all decrypt).


def local_encryption_key() -> str:
    """The embedded setup's key, generated once into var/ like `local_secret_key()`.

    A deployment (SECRET_KEY configured) must set HUB_ENCRYPTION_KEY itself: a key
    generated inside a container would vanish with it, and every stored token with it.
    """
    if secret("SECRET_KEY"):
        raise ImproperlyConfigured(
            "HUB_ENCRYPTION_KEY is not set. The hub encrypts stored GitHub tokens with it; "
            f"generate one with: {GENERATE_KEY_COMMAND} and set it as HUB_ENCRYPTION_KEY "
            "(or HUB_ENCRYPTION_KEY_FILE). Keep it safe: without it stored tokens are lost."
        )
    key_file = VAR_DIR / "encryption_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(generate_key(), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


HUB_ENCRYPTION_KEY = secret("HUB_ENCRYPTION_KEY") or local_encryption_key()
# A malformed key fails here, at startup, not at the first token stored.
parse_keys(HUB_ENCRYPTION_KEY)

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Error bodies never echo a secret, whichever view raised.
    "EXCEPTION_HANDLER": "ingestion.api.views.redacting_exception_handler",
}

# --- Ingestion pipeline (django-q2) ------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
INGEST_WORKERS = env.int("INGEST_WORKERS", default=3)
INGEST_MAX_ATTEMPTS = env.int("INGEST_MAX_ATTEMPTS", default=5)
INGEST_BREAKER_FAILURES = env.int("INGEST_BREAKER_FAILURES", default=5)
INGEST_BREAKER_COOLDOWN = env.int("INGEST_BREAKER_COOLDOWN", default=60)
INGEST_SYNC_CRON = env.str("INGEST_SYNC_CRON", default="0 2 * * *")
# When the weekly reconciliation runs (streams that can list what still exists upstream,
# such as jira/issues, mark the rest deleted).
INGEST_RECONCILE_CRON = env.str("INGEST_RECONCILE_CRON", default="0 4 * * 0")
INGEST_KEEP_RAW = env.bool("INGEST_KEEP_RAW", default=True)
INGEST_RAW_RETENTION_DAYS = env.int("INGEST_RAW_RETENTION_DAYS", default=90)
INGEST_JOB_RETENTION_DAYS = env.int("INGEST_JOB_RETENTION_DAYS", default=7)
# A sync's lock on its stream expires this long (seconds) after its last page, so a
# run whose process vanished on another host does not block the stream for ever.
INGEST_SYNC_LOCK_SECONDS = env.int("INGEST_SYNC_LOCK_SECONDS", default=600)
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=1000)
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# Uploaded import files and their error reports. Served only through views that check the
# user (the admin and /api/ingest/csv), never as public media,
# and workers on other hosts need this path shared (or a storage backend).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Uploads and error reports older than this are deleted by the cleanup job (the history
# rows stay).
IMPORT_FILE_RETENTION_DAYS = env.int("IMPORT_FILE_RETENTION_DAYS", default=30)

# PIPELINE-SETTINGS (owned by the pipeline: Q_CLUSTER, ALT_CLUSTERS, CACHES)
# Workers of the "critical" cluster, which runs only critical and high jobs
# (webhook deliveries, "sync now"): django-q2 has no per-task priority, so
# urgent work gets its own queue and workers (start it with
# `Q_CLUSTER_NAME=critical python manage.py qcluster`).
INGEST_CRITICAL_WORKERS = env.int("INGEST_CRITICAL_WORKERS", default=1)
# A running job whose heartbeat is older than this lost its worker; the sweeper queues it again.
INGEST_STALE_JOB_SECONDS = env.int("INGEST_STALE_JOB_SECONDS", default=600)
# A queued job not started this long after its task went to the broker may have lost
# that task (Redis has no acknowledgement); the sweeper enqueues it again.
INGEST_LOST_TASK_SECONDS = env.int("INGEST_LOST_TASK_SECONDS", default=300)
# How long one task may run before django-q2 kills its worker (the job then resumes
# from its checkpoint once the sweeper finds it stale).
INGEST_TASK_TIMEOUT = env.int("INGEST_TASK_TIMEOUT", default=3600)
Q_CLUSTER = {
    "name": "hub",
    "workers": INGEST_WORKERS,
    "timeout": INGEST_TASK_TIMEOUT,
    # The broker redelivers an unacknowledged task after `retry` seconds: only a
    # crashed worker leaves one, so it must be longer than any task may run.
    "retry": INGEST_TASK_TIMEOUT + 300,
    # Our task functions catch their errors and schedule their own retries with
    # backoff; a task that still fails is acknowledged at once, never redelivered
    # every `retry` seconds forever (django-q2's default on the ORM broker).
    "ack_failures": True,
    "max_attempts": 1,
    # Few tasks prefetched per cluster: fewer to lose if a Redis worker is killed.
    "queue_limit": INGEST_WORKERS,
    "poll": 0.5,
    # A cluster that was down for days runs the daily sync once, not once per missed day.
    "catch_up": False,
    "save_limit": 500,
    "label": "Task queue (django-q2)",
    "ALT_CLUSTERS": {
        "critical": {
            "workers": INGEST_CRITICAL_WORKERS,
            "queue_limit": INGEST_CRITICAL_WORKERS,
        },
    },
    "orm": "default",
}
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL

# django-q2 keeps its cluster statistics (the workers' heartbeat that health reads) in
# the cache: it must be one that every process sees, not per-process memory.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "hub_cache"}
    )
}
# END PIPELINE-SETTINGS

# --- GitHub source (sources/github) -------------------------------------------------
# The REST API root: GitHub Enterprise Server is https://HOST/api/v3; tests use a fake.
GITHUB_API_URL = env.str("GITHUB_API_URL", default="https://api.github.com")
# Where the OAuth pages live ("Connect GitHub"): https://github.com or the GHES host.
GITHUB_OAUTH_URL = env.str("GITHUB_OAUTH_URL", default="https://github.com")
# The fallback credential when no account is connected.
GITHUB_TOKEN = secret("GITHUB_TOKEN")
# What to sync: the repositories of these organisations (and of the token's user),
# or exactly these repositories (owner/name) when GITHUB_REPOS is set.
GITHUB_ORGS = env.list("GITHUB_ORGS", default=[])
GITHUB_REPOS = env.list("GITHUB_REPOS", default=[])
GITHUB_INCLUDE_FORKS = env.bool("GITHUB_INCLUDE_FORKS", default=True)
GITHUB_INCLUDE_ARCHIVED = env.bool("GITHUB_INCLUDE_ARCHIVED", default=True)
# Commits of every branch, not only the default one.
GITHUB_ALL_BRANCHES = env.bool("GITHUB_ALL_BRANCHES", default=False)
# Issues with one of these labels (compared without case) are also bugs.
GITHUB_BUG_LABELS = env.list("GITHUB_BUG_LABELS", default=["bug"])
# Share of the primary rate limit kept back: below it a sync stops and resumes at the reset.
GITHUB_RATE_RESERVE = env.float("GITHUB_RATE_RESERVE", default=0.10)
# Seconds per request before giving up on it (a transient error, retried).
GITHUB_TIMEOUT = env.float("GITHUB_TIMEOUT", default=30.0)
# Retries of a failed request (5xx, reset, timeout) within a sync, and the first pause
# between them (doubling); after them the job's own backoff takes over.
GITHUB_RETRIES = env.int("GITHUB_RETRIES", default=3)
GITHUB_RETRY_BACKOFF = env.float("GITHUB_RETRY_BACKOFF", default=1.0)
# Longest Retry-After a worker waits through in place; longer waits reschedule the job.
GITHUB_MAX_INLINE_WAIT = env.float("GITHUB_MAX_INLINE_WAIT", default=10.0)

# --- Webhooks (ingestion/webhooks, sources/*/webhooks.py) ---------------------------
# The secrets GitHub signs deliveries with (X-Hub-Signature-256); several, comma-separated,
# while one is rotated: a delivery signed with any of them is accepted.
GITHUB_WEBHOOK_SECRET = secret_list("GITHUB_WEBHOOK_SECRET")
# The Slack app's signing secret (X-Slack-Signature); several comma-separated to rotate.
SLACK_SIGNING_SECRET = secret_list("SLACK_SIGNING_SECRET")
# Largest delivery body accepted (GitHub caps its payloads at 25 MiB).
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", default=25 * 1024 * 1024)
# Deliveries processed per transaction by the webhook job.
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=500)
# Days processed and ignored deliveries are kept (failed ones stay until replayed).
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)

# --- Jira source (sources/jira) ------------------------------------------------------
# Jira Cloud: https://SITE.atlassian.net with JIRA_EMAIL and JIRA_API_TOKEN (basic auth).
# Jira Data Center / Server: its base URL with JIRA_PAT (a personal access token, bearer).
JIRA_BASE_URL = env.str("JIRA_BASE_URL", default="")
JIRA_EMAIL = env.str("JIRA_EMAIL", default="")
JIRA_API_TOKEN = secret("JIRA_API_TOKEN")
JIRA_PAT = secret("JIRA_PAT")
# Project keys to sync (default: every project the credentials see), and board ids
# (default: every scrum board of those projects).
JIRA_PROJECTS = env.list("JIRA_PROJECTS", default=[])
JIRA_BOARDS = env.list("JIRA_BOARDS", default=[])
# Custom field ids of story points and sprints; empty: found by name in the field list.
JIRA_STORY_POINTS_FIELD = env.str("JIRA_STORY_POINTS_FIELD", default="")
JIRA_SPRINT_FIELD = env.str("JIRA_SPRINT_FIELD", default="")
# Issues per search request (Jira caps it at 100), seconds per request.
JIRA_PAGE_SIZE = env.int("JIRA_PAGE_SIZE", default=100)
JIRA_TIMEOUT = env.float("JIRA_TIMEOUT", default=30.0)

# --- Slack source (sources/slack) ----------------------------------------------------
# The Web API root; tests point it at a fake. Read-only: the hub never posts.
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")
SLACK_BOT_TOKEN = secret("SLACK_BOT_TOKEN")
# Channel ids or names to sync (default: every channel the bot is a member of).
SLACK_CHANNELS = env.list("SLACK_CHANNELS", default=[])
# Messages matching one of these regular expressions, or posted by one of these bot ids,
# are deploy notifications.
SLACK_DEPLOY_PATTERNS = env.list("SLACK_DEPLOY_PATTERNS", default=[r"\bdeploy(ed|ing|ment)?\b"])
SLACK_DEPLOY_BOTS = env.list("SLACK_DEPLOY_BOTS", default=[])
# Keep join/leave messages (subtypes channel_join, channel_leave).
SLACK_KEEP_JOINS = env.bool("SLACK_KEEP_JOINS", default=False)
# Messages per conversations.history / replies page, and the pace of those calls: apps
# outside the Slack Marketplace get about 1 request a minute and 15 messages a page.
SLACK_HISTORY_LIMIT = env.int("SLACK_HISTORY_LIMIT", default=15)
SLACK_REQUESTS_PER_MINUTE = env.float("SLACK_REQUESTS_PER_MINUTE", default=1.0)
SLACK_TIMEOUT = env.float("SLACK_TIMEOUT", default=30.0)

# --- Connect GitHub (social-auth) ----------------------------------------------------
# "Connect GitHub" at /github/connect: OAuth with social-auth-app-django, staff only. The
# backend (sources.github.oauth.GitHubConnectOAuth2, social-core's `github-enterprise`
# made association-only) reads GITHUB_OAUTH_URL and GITHUB_API_URL above, so github.com,
# GitHub Enterprise Server and the tests' fake all work. Register the OAuth app with the
# callback URL https://<hub host>/github/oauth/complete/github-enterprise/
INSTALLED_APPS += ["social_django"]
AUTHENTICATION_BACKENDS = [
    # First: staff sign in with a password; the GitHub backend never signs anyone in.
    "django.contrib.auth.backends.ModelBackend",
    "sources.github.oauth.GitHubConnectOAuth2",
]
SOCIAL_AUTH_GITHUB_KEY = env.str("SOCIAL_AUTH_GITHUB_KEY", default="")
SOCIAL_AUTH_GITHUB_SECRET = secret("SOCIAL_AUTH_GITHUB_SECRET")
SOCIAL_AUTH_GITHUB_ENTERPRISE_SCOPE = ["repo", "read:org"]
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_REQUESTS_TIMEOUT = GITHUB_TIMEOUT
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "github:connect"
SOCIAL_AUTH_NEW_ASSOCIATION_REDIRECT_URL = "github:connect"
SOCIAL_AUTH_LOGIN_ERROR_URL = "github:connect"
# No user is ever created or updated: the pipeline only links the GitHub account to the
# staff member who connected it and stores the token, encrypted, on a GitHubCredential.
# It replaces social-core's load_extra_data, which would save the token in plain text
# in UserSocialAuth.extra_data.
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "sources.github.oauth.require_staff",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.social_auth.associate_user",
    "sources.github.oauth.store_credential",
)

# --- Logging ----------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# One console handler, redacting secrets (tokens, Authorization headers, configured
# secrets), in text or JSON lines. Django's own "django" logger gets the same handler
# instead of its default one (which, with DEBUG on, would print unredacted); django-q2
# adds a handler of its own only when none exists up the tree, so its records come
# through the same filter.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "ingestion.logging.RedactSecretsFilter"}},
    "formatters": {
        "text": {"()": "ingestion.logging.TextFormatter"},
        "json": {"()": "ingestion.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT.lower() == "json" else "text",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

# --- Production hardening (DEBUG off) -----------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if env.bool("HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
