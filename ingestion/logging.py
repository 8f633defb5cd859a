"""Structured logs: the job/source/entity context on every line, JSON when asked, secrets never.

Wired in `config/settings.py` with `LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)`:
- `RedactSecretsFilter` on every handler (a filter on a handler sees every record
  that reaches it, including those propagated from child loggers; a filter on a
  logger would not);
- `JsonFormatter` when LOG_FORMAT=json (one JSON object per line), else `TextFormatter`.

Context: code running a job wraps its work in `log_context(job_id=..., source=...,
entity=..., scope=...)`; every record logged inside carries those fields, in any
logger, without passing `extra=` at each call.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ingestion.redaction import redact, redact_value

__all__ = [
    "JsonFormatter",
    "RedactSecretsFilter",
    "TextFormatter",
    "current_log_context",
    "log_context",
]

CONTEXT_FIELDS = ("job_id", "source", "entity", "scope", "run_id")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "ingestion_log_context", default=None
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` (job_id, source, entity, scope, run_id …) to every record logged inside."""
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v not in (None, "")}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, Any]:
    return dict(_context.get() or {})


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_RECORD_ATTRIBUTES and not key.startswith("_")
    }


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record so no secret survives: message, arguments, traceback, extras.

    The message is rendered once (msg % args) and redacted as a whole, because a
    secret may only appear after formatting (an exception object as an argument).
    Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current_log_context().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extra_fields(record).items():
            if isinstance(value, str | dict | list | tuple):
                setattr(record, key, redact_value(value))
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    context = current_log_context()
    for key in CONTEXT_FIELDS:
        value = getattr(record, key, None)
        if value not in (None, ""):
            context[key] = value
    return context


class TextFormatter(logging.Formatter):
    """`time level logger message key=value …`, redacted once more as a last guard."""

    def __init__(self, fmt: str | None = None, **kwargs: Any) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context_of(record)
        if context:
            pairs = " ".join(f"{key}={value}" for key, value in context.items())
            head, newline, rest = line.partition("\n")
            line = f"{head} {pairs}{newline}{rest}"
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO 8601), level, logger, message, the job
    context, any `extra=` fields, and the traceback as `exc_info`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context_of(record))
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return redact(json.dumps(entry, default=str, ensure_ascii=False))
