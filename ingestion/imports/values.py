"""Cell text → Python values, for the import.

These only read what people type in spreadsheets ("In progress", "1,5",
"31.12.2026") into the value the model field holds. Whether a value is
allowed (lengths, choices, ranges, URL and email forms, cross-field rules) is
decided afterwards by the model itself, the same rules its admin form and the
API apply.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from tracking.fields import split_tags

CellParser = Callable[[str], Any]

_SEPARATORS = re.compile(r"[\s_\-']+")


def choice_key(text: str) -> str:
    """ "In progress", "in_progress", "IN-PROGRESS", "Won't fix" → one comparable key."""
    return _SEPARATORS.sub("", text).lower()


def choice_parser(field: models.Field) -> CellParser:
    """A choice by its stored value or its label, whatever the case and separators."""
    by_key: dict[str, str] = {}
    for value, label in field.flatchoices:
        by_key[choice_key(str(value))] = value
        by_key[choice_key(str(label))] = value
    valid = ", ".join(str(value) for value, _label in field.flatchoices)

    def parse(text: str) -> str:
        try:
            return by_key[choice_key(text)]
        except KeyError:
            raise ValidationError(f"Not one of: {valid}.", code="invalid_choice") from None

    return parse


# Unambiguous day-first and month-name forms; "01/02/2026" could be either, so slashes
# are read only when the day cannot be taken for a month (see _slashed_date).
_DATE_FORMATS = ("%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%Y/%m/%d")
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_DATE_HELP = "Use ISO 8601 (2026-01-31 or 2026-01-31T09:30:00Z)"


def _slashed_date(text: str) -> dt.datetime | None:
    match = _SLASHED.match(text)
    if match is None:
        return None
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    if first > 12 >= second:
        day, month = first, second
    elif second > 12 >= first:
        month, day = first, second
    elif first == second:
        day = month = first
    else:
        raise ValidationError(
            f"{text!r} is ambiguous (day/month or month/day?). {_DATE_HELP}.",
            code="ambiguous_date",
        )
    hour, minute, second_ = (int(part) if part else 0 for part in match.groups()[3:])
    try:
        return dt.datetime(year, month, day, hour, minute, second_)
    except ValueError as error:
        raise ValidationError(f"{text!r} is not a date: {error}.", code="invalid_date") from None


def parse_datetime(text: str) -> dt.datetime:
    """An aware datetime; times without a zone are UTC, dates alone are midnight UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = _slashed_date(text) or _common_form(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _common_form(text: str) -> dt.datetime:
    for date_format in _DATE_FORMATS:
        for suffix in _TIME_SUFFIXES:
            try:
                return dt.datetime.strptime(text, date_format + suffix)
            except ValueError:
                continue
    raise ValidationError(f"{text!r} is not a date. {_DATE_HELP}.", code="invalid_date")


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        value = parse_datetime(text)
    if value.time() != dt.time(0) and value.tzinfo not in (None, dt.UTC):
        # "2026-01-31T23:30:00-05:00" is the 1st of February in UTC, where dates are kept.
        value = value.astimezone(dt.UTC)
    return value.date()


def parse_decimal(text: str) -> Decimal:
    """ "1.5", and "1,5" where a comma is the decimal separator."""
    normalized = text.replace(" ", "")
    if "," in normalized and "." not in normalized and normalized.count(",") == 1:
        normalized = normalized.replace(",", ".")
    try:
        value = Decimal(normalized)
    except InvalidOperation:
        raise ValidationError(f"{text!r} is not a number.", code="invalid_number") from None
    if not value.is_finite():
        raise ValidationError(f"{text!r} is not a number.", code="invalid_number")
    return value


def parse_integer(text: str) -> int:
    """Whole numbers, also as a spreadsheet writes them ("24.0")."""
    try:
        return int(text)
    except ValueError:
        pass
    value = parse_decimal(text)
    if value != value.to_integral_value():
        raise ValidationError(f"{text!r} is not a whole number.", code="invalid_integer")
    return int(value)


_TRUE = frozenset({"true", "yes", "y", "1", "x"})
_FALSE = frozenset({"false", "no", "n", "0"})


def parse_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"{text!r} is not yes or no.", code="invalid_boolean")


def parse_tags(text: str) -> list[str]:
    return split_tags(text)


def parse_text(text: str) -> str:
    return text


def parse_lowercase(text: str) -> str:
    return text.lower()


def parser_for(field: models.Field) -> CellParser:
    """How a cell becomes this model field's value (before the field's own validation)."""
    if field.choices:
        return choice_parser(field)
    if isinstance(field, models.EmailField):
        # Emails are kept in lower case (Person.save does the same), so they match.
        return parse_lowercase
    internal_type = field.get_internal_type()
    if internal_type == "DateTimeField":
        return parse_datetime
    if internal_type == "DateField":
        return parse_date
    if internal_type == "DecimalField":
        return parse_decimal
    if internal_type in ("IntegerField", "PositiveIntegerField", "BigIntegerField"):
        return parse_integer
    if internal_type == "BooleanField":
        return parse_boolean
    if internal_type == "JSONField":
        return parse_tags
    return parse_text
