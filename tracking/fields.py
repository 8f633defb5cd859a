"""Model fields shared by several models."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


def split_tags(value: str | list[str] | None) -> list[str]:
    """Tags from a comma-separated string or a list: trimmed, de-duplicated, in order."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError("Each tag must be text.", code="invalid_tag")
        tag = item.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class TagsFormField(forms.CharField):
    """Tags typed as "backend, payments" in a form, kept as a list."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        return split_tags(super().to_python(value))


class TagsField(models.JSONField):
    """A list of short labels, stored as JSON, edited as comma-separated text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs: Any) -> forms.Field:
        # JSONField's own form field would make people type ["a", "b"].
        return TagsFormField(
            required=not self.blank,
            label=self.verbose_name.capitalize(),
            help_text=self.help_text or "Comma-separated.",
        )

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        super().validate(value, model_instance)
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            raise ValidationError("Tags must be a list of text labels.", code="invalid_tags")
