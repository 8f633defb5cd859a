"""Structured logs: redaction of secrets, the job context, JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.logging import JsonFormatter, RedactSecretsFilter, TextFormatter, log_context
from ingestion.redaction import redact

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JIRA_TOKEN = "jira-plain-token-without-prefix-42"
PROCESS_SECRET_KEY = "process-secret-key-that-must-not-be-logged-0451"


@pytest.fixture(autouse=True)
def known_secrets(settings):
    settings.GITHUB_TOKEN = GITHUB_TOKEN
    settings.JIRA_API_TOKEN = JIRA_TOKEN
    settings.CUSTOM_SERVICE_PASSWORD = "hunter2-custom-password"


@pytest.fixture
def log_output():
    """A handler configured as settings.LOGGING configures the console: filter + formatter."""

    def attach(formatter: logging.Formatter) -> io.StringIO:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactSecretsFilter())
        handler.setFormatter(formatter)
        logger = logging.getLogger("hub.test")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        handlers.append((logger, handler))
        return stream

    handlers: list[tuple[logging.Logger, logging.Handler]] = []
    yield attach
    for logger, handler in handlers:
        logger.removeHandler(handler)


def test_configured_token_is_redacted_from_text():
    assert redact(f"GET failed with {JIRA_TOKEN}") == "GET failed with [REDACTED]"


def test_setting_named_like_a_password_is_redacted():
    assert "hunter2" not in redact("login hunter2-custom-password refused")


@pytest.mark.parametrize(
    ("leaky", "secret_part"),
    [
        ("ghp_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ123456", "ZZZZ123456"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "uvwxyz"),
        ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "QrStUvWx"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpw"),
        ("{'Authorization': 'Bearer abc.def.ghi-jkl'}", "ghi-jkl"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature", "payload.signature"),
        ("token 0123456789abcdef0123456789abcdef", "89abcdef"),
        ("https://api.example.com/x?access_token=s3cr3tvalue&page=2", "s3cr3tvalue"),
        ("https://user:p4ssw0rd-value@jira.example.com/rest", "p4ssw0rd"),
    ],
)
def test_unknown_token_shapes_are_redacted(leaky, secret_part):
    redacted = redact(f"upstream said: {leaky}")

    assert "[REDACTED]" in redacted
    assert secret_part not in redacted


def test_ordinary_words_after_token_are_kept():
    assert redact("the token expired, please rotate it") == "the token expired, please rotate it"


def test_log_message_arguments_are_redacted(log_output):
    output = log_output(TextFormatter())

    logging.getLogger("hub.test").warning("fetch failed: %s", RuntimeError(GITHUB_TOKEN))

    assert GITHUB_TOKEN not in output.getvalue()
    assert "fetch failed: [REDACTED]" in output.getvalue()


def test_traceback_is_redacted(log_output):
    output = log_output(TextFormatter())

    try:
        raise ValueError(f"headers were {{'Authorization': 'token {GITHUB_TOKEN}'}}")
    except ValueError:
        logging.getLogger("hub.test").exception("request failed")

    assert "Traceback" in output.getvalue()
    assert GITHUB_TOKEN not in output.getvalue()


def test_extra_fields_are_redacted(log_output):
    output = log_output(JsonFormatter())

    logging.getLogger("hub.test").info("call", extra={"headers": {"Authorization": JIRA_TOKEN}})

    assert JIRA_TOKEN not in output.getvalue()


def test_json_lines_carry_the_job_context(log_output):
    output = log_output(JsonFormatter())

    with log_context(job_id=12, source="github", entity="commits"):
        logging.getLogger("hub.test").info("page %d committed", 3)

    entry = json.loads(output.getvalue())
    assert entry["message"] == "page 3 committed"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "hub.test"
    assert (entry["job_id"], entry["source"], entry["entity"]) == (12, "github", "commits")
    assert entry["time"].endswith("+00:00")


def test_each_event_is_one_json_line(log_output):
    output = log_output(JsonFormatter())

    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("hub.test").exception("failed\nbadly")

    lines = output.getvalue().splitlines()
    assert len(lines) == 1
    assert "RuntimeError" in json.loads(lines[0])["exc_info"]


def test_text_lines_carry_the_job_context(log_output):
    output = log_output(TextFormatter())

    with log_context(job_id=7, source="jira", entity="issues"):
        logging.getLogger("hub.test").info("started")

    assert "started job_id=7 source=jira entity=issues" in output.getvalue()


def test_context_ends_with_its_block(log_output):
    output = log_output(JsonFormatter())

    with log_context(job_id=7):
        pass
    logging.getLogger("hub.test").info("outside")

    assert "job_id" not in json.loads(output.getvalue())


def run_configured_process(log_format: str) -> str:
    """A process configured by settings.LOGGING (LOG_FORMAT, LOG_LEVEL) that logs its
    configured SECRET_KEY; returns what it wrote to stderr."""
    script = (
        "import django, logging\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from ingestion.logging import log_context\n"
        "with log_context(job_id=5, source='github', entity='commits'):\n"
        "    logging.getLogger('ingestion').error('failed with %s', settings.SECRET_KEY)\n"
        "    logging.getLogger('django.request').error('request had %s', settings.SECRET_KEY)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": PROCESS_SECRET_KEY,
        "DEBUG": "true",
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": "DEBUG",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stderr


def test_logging_config_writes_redacted_json_lines_for_every_logger():
    lines = run_configured_process("json").splitlines()

    entries = [json.loads(line) for line in lines]
    assert [entry["logger"] for entry in entries] == ["ingestion", "django.request"]
    assert all(entry["message"].endswith("[REDACTED]") for entry in entries)
    assert entries[0]["job_id"] == 5
    assert PROCESS_SECRET_KEY not in "\n".join(lines)


def test_logging_config_writes_redacted_text_lines():
    output = run_configured_process("text")

    assert "failed with [REDACTED] job_id=5 source=github entity=commits" in output
    assert PROCESS_SECRET_KEY not in output
