"""GET /api/fetch/<source>/<entity>: normalized rows, a keyset page at a time.

Answers `{"data": [...], "next_cursor": "…" | null}`. Pages are ordered by
(entity time, id) ascending, or by (change time, id) when `changed_since` is
given (see tracking.api.fetch for each entity's times). `since` is inclusive and
`until` exclusive; a time without a zone is UTC. A parameter given empty counts as
absent, as HTML forms send it. Soft-deleted bugs and issues are listed, with their
`deleted_at`, so an extraction sees deletions. Reading needs a signed-in user: the
permission and authentication classes are the project's defaults.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.api.fetch import FetchEntity, UnknownFetchPair, get_fetch_entity, valid_pairs
from tracking.api.pagination import (
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    filters_fingerprint,
    keyset_page,
)
from tracking.api.serializers import FetchParametersSerializer


class FetchView(APIView):
    def get(self, request: Request, source: str, entity: str) -> Response:
        try:
            fetch_entity = get_fetch_entity(source, entity)
        except UnknownFetchPair:
            body = {
                "detail": f"No entity {entity!r} from source {source!r}.",
                "valid": valid_pairs(),
            }
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        reject_unknown_parameters(request, fetch_entity)
        parameters = FetchParametersSerializer(data=request.query_params)
        parameters.is_valid(raise_exception=True)
        options = parameters.validated_data

        queryset, filter_values = filtered_rows(request, fetch_entity, source)
        order_field, queryset = apply_times(fetch_entity, queryset, options)
        fingerprint = filters_fingerprint(
            {
                "source": source,
                "entity": fetch_entity.name,
                "order": order_field,
                **{
                    name: options[name]
                    for name in ("since", "until", "changed_since")
                    if name in options
                },
                **filter_values,
            }
        )
        after = None
        if options.get("cursor"):
            try:
                after = decode_cursor(options["cursor"], fingerprint)
            except InvalidCursor as error:
                raise ValidationError({"cursor": [str(error)]}) from error

        page = keyset_page(queryset, order_field, options["limit"], after)
        data = fetch_entity.serializer(page.rows, many=True).data
        next_cursor = encode_cursor(page.next_position, fingerprint) if page.next_position else None
        return Response({"data": data, "next_cursor": next_cursor})


def reject_unknown_parameters(request: Request, fetch_entity: FetchEntity) -> None:
    """A misspelt filter must not silently widen an extraction to every row."""
    accepted = fetch_entity.accepted_parameters
    unknown = sorted(set(request.query_params) - set(accepted))
    if unknown:
        message = f"Unknown parameter. Accepted for {fetch_entity.name}: {', '.join(accepted)}."
        raise ValidationError({name: [message] for name in unknown})


def filtered_rows(
    request: Request, fetch_entity: FetchEntity, source: str
) -> tuple[models.QuerySet, dict[str, Any]]:
    """The source's rows narrowed by the entity's filters, and the filter values used."""
    filterset = fetch_entity.filterset(request.query_params, queryset=fetch_entity.queryset(source))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    used = {
        name: value
        for name, value in filterset.form.cleaned_data.items()
        if value not in ("", None)
    }
    return filterset.qs, used


def apply_times(
    fetch_entity: FetchEntity, queryset: models.QuerySet, options: dict[str, Any]
) -> tuple[str, models.QuerySet]:
    """Narrow by since/until (entity time) and changed_since (change time); return the field
    the pages are ordered by."""
    time_field = fetch_entity.time_field
    if "since" in options:
        queryset = queryset.filter(**{f"{time_field}__gte": options["since"]})
    if "until" in options:
        queryset = queryset.filter(**{f"{time_field}__lt": options["until"]})
    if "changed_since" in options:
        change_field = fetch_entity.change_field
        return change_field, queryset.filter(**{f"{change_field}__gte": options["changed_since"]})
    if fetch_entity.time_can_be_null:
        # A row without a time has no place in a (time, id) order: see tracking.api.fetch.
        queryset = queryset.filter(**{f"{time_field}__isnull": False})
    return time_field, queryset
