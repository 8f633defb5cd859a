"""Serializers of the pipeline API: jobs as read, and the requests that create them.

Validation lives here once: the sync endpoint and `POST /api/pipeline/jobs` share
`validate_stream`, so both refuse an unknown stream with the same message.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from ingestion.choices import JobKind, JobPriority
from ingestion.models import IngestionJob, SyncRun
from ingestion.redaction import redact, redact_value
from ingestion.streams import UnknownStream, all_streams, get_stream


def validate_stream(source: str, entity: str) -> None:
    """Raise a field error naming the known streams when (source, entity) is not one."""
    try:
        get_stream(source, entity)
    except UnknownStream as error:
        raise serializers.ValidationError(str(error), code="unknown_stream") from None


class IngestionJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = IngestionJob
        fields = [
            "id",
            "url",
            "kind",
            "params",
            "source",
            "entity",
            "scope",
            "priority",
            "status",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "waiting_for",
            "last_error",
            "progress_done",
            "progress_total",
            *SyncRun.COUNT_FIELDS,
            "created_by",
            "created_at",
            "enqueued_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    def get_url(self, job: IngestionJob) -> str:
        return reverse(
            "pipeline:job-detail", kwargs={"pk": job.pk}, request=self.context.get("request")
        )

    # Stored errors and params should hold no secret already; the API redacts
    # again because a response is the last place one could still leak.
    def get_params(self, job: IngestionJob) -> Any:
        return redact_value(job.params)

    def get_last_error(self, job: IngestionJob) -> str:
        return redact(job.last_error)


class SyncRequestSerializer(serializers.Serializer):
    """Body of `POST /api/sync/<source>/<entity>`; source and entity come from the URL."""

    scope = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    full = serializers.BooleanField(required=False, default=False)
    # A sync asked for by a person runs before the scheduled ones.
    priority = serializers.ChoiceField(
        choices=JobPriority.choices, required=False, default=JobPriority.CRITICAL
    )


class SyncParamsSerializer(serializers.Serializer):
    """`params` of a sync job given to `POST /api/pipeline/jobs`."""

    source = serializers.CharField(max_length=50)
    entity = serializers.CharField(max_length=50)
    scope = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    full = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            validate_stream(attrs["source"], attrs["entity"])
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"entity": error.detail}) from None
        return attrs


class SourceSyncParamsSerializer(serializers.Serializer):
    """`params` of a source sync job given to `POST /api/pipeline/jobs`."""

    source = serializers.CharField(max_length=50)
    scope = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    full = serializers.BooleanField(required=False, default=False)

    def validate_source(self, source: str) -> str:
        known = sorted({stream.source for stream in all_streams()})
        if source not in known:
            raise serializers.ValidationError(
                f"No streams for source {source!r}; known: {', '.join(known)}."
            )
        return source


PARAMS_SERIALIZERS = {
    JobKind.SYNC: SyncParamsSerializer,
    JobKind.SOURCE_SYNC: SourceSyncParamsSerializer,
}


class JobRequestSerializer(serializers.Serializer):
    """Body of `POST /api/pipeline/jobs`: {"kind", "params", "priority"}."""

    kind = serializers.ChoiceField(choices=JobKind.choices)
    params = serializers.JSONField(required=False, default=dict)
    priority = serializers.ChoiceField(
        choices=JobPriority.choices, required=False, default=JobPriority.NORMAL
    )

    def validate_params(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise serializers.ValidationError("Must be a JSON object.", code="not_an_object")
        return params

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        params_serializer = PARAMS_SERIALIZERS.get(attrs["kind"])
        if params_serializer is not None:
            params = params_serializer(data=attrs["params"])
            if not params.is_valid():
                raise serializers.ValidationError({"params": params.errors})
            attrs["params"] = dict(params.validated_data)
        return attrs


class DeadJobRetrySerializer(serializers.Serializer):
    """Body of `POST /api/pipeline/dlq/retry`: {"ids": [...]} or {"all": true}.

    Retrying everything must be asked for explicitly: an empty body is an error,
    not "retry all".
    """

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_empty=False
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_ids = bool(attrs.get("ids"))
        if has_ids == attrs["all"]:
            raise serializers.ValidationError(
                {"ids": ['Give either "ids" (a list of dead job ids) or "all": true.']},
                code="ids_or_all",
            )
        return attrs
