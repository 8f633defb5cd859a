"""Filters of the pipeline's lists, shared by the API (and the admin where it fits)."""

from __future__ import annotations

import django_filters

from ingestion.choices import JobKind, JobPriority, JobStatus
from ingestion.models import IngestionJob


class IngestionJobFilter(django_filters.FilterSet):
    """`?status=dead&kind=sync&source=github` — each filter uses an indexed column
    (status, (kind, status), source); an unknown choice is a 400 naming the field."""

    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.ChoiceFilter(choices=JobKind.choices)
    priority = django_filters.ChoiceFilter(choices=JobPriority.choices)
    source = django_filters.CharFilter()
    entity = django_filters.CharFilter()
    scope = django_filters.CharFilter()

    class Meta:
        model = IngestionJob
        fields = ["status", "kind", "priority", "source", "entity", "scope"]
