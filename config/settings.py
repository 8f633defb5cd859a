"""Settings for the hub, read from the environment with django-environ.

Every variable is listed, with its meaning, in `.env.example`. Secrets may also
come from `<NAME>_FILE` (a path to a file holding the value), as container
users expect.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ

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
HUB_ENCRYPTION_KEY = secret("HUB_ENCRYPTION_KEY")

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}

# --- Ingestion pipeline (django-q2) ------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
INGEST_WORKERS = env.int("INGEST_WORKERS", default=3)
INGEST_MAX_ATTEMPTS = env.int("INGEST_MAX_ATTEMPTS", default=5)
INGEST_BREAKER_FAILURES = env.int("INGEST_BREAKER_FAILURES", default=5)
INGEST_BREAKER_COOLDOWN = env.int("INGEST_BREAKER_COOLDOWN", default=60)
INGEST_SYNC_CRON = env.str("INGEST_SYNC_CRON", default="0 2 * * *")
INGEST_KEEP_RAW = env.bool("INGEST_KEEP_RAW", default=True)
INGEST_RAW_RETENTION_DAYS = env.int("INGEST_RAW_RETENTION_DAYS", default=90)
INGEST_JOB_RETENTION_DAYS = env.int("INGEST_JOB_RETENTION_DAYS", default=7)
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=1000)
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)

# PIPELINE-SETTINGS (owned by the pipeline: Q_CLUSTER, ALT_CLUSTERS, CACHES)
Q_CLUSTER = {
    "name": "hub",
    "workers": INGEST_WORKERS,
    "timeout": 3600,
    "retry": 3900,
    "max_attempts": 3,
    "orm": "default",
}
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL
# END PIPELINE-SETTINGS

# --- Logging ----------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "text"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- Production hardening (DEBUG off) -----------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if env.bool("HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
