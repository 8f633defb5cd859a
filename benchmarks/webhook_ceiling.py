"""The ceiling of benchmarks/webhooks.py: bare views under the same gunicorn as the hub.

URLconf of benchmarks/webhook_settings.py: config.urls (the real endpoint,
POST /api/webhooks/github) plus

- POST /_bench/ceiling/verify: check X-Hub-Signature-256 (HMAC-SHA256 of the raw
  body under GITHUB_WEBHOOK_SECRET, constant-time) and answer 202;
- POST /_bench/ceiling/insert: the same, then one INSERT of the delivery (id,
  event, body, time) into CEILING_TABLE, a bare table the benchmark creates (no
  index, no constraint), and answer 202.

They pass through the same middleware, database connection handling
(CONN_MAX_AGE, health checks) and gunicorn workers as the real endpoint, so the
difference is what the hub does on top: parsing the JSON, the ORM's INSERT ...
ON CONFLICT with its indexes, the queued-job flag in Redis.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingestion.webhooks import signature_matches
from sources.github.webhooks import SIGNATURE_PREFIX

CEILING_TABLE = "bench_webhook_ceiling"
CREATE_CEILING_TABLE = (
    f"CREATE TABLE {CEILING_TABLE} "
    "(delivery_id text NOT NULL, event text NOT NULL, body text NOT NULL, "
    "received_at timestamptz NOT NULL)"
)
_INSERT = (
    f"INSERT INTO {CEILING_TABLE} (delivery_id, event, body, received_at) "
    "VALUES (%s, %s, %s, now())"
)


def _verified_body(request: HttpRequest) -> bytes | None:
    """The body when it is signed as the hub checks it (the hub's own comparison)."""
    body = request.read(settings.WEBHOOK_MAX_BYTES + 1)
    signature = request.headers.get("X-Hub-Signature-256", "")
    signed = signature_matches(settings.GITHUB_WEBHOOK_SECRET, body, signature, SIGNATURE_PREFIX)
    return body if signed else None


@csrf_exempt
@require_POST
def verify_only(request: HttpRequest) -> JsonResponse:
    if _verified_body(request) is None:
        return JsonResponse({"detail": "bad signature"}, status=401)
    delivery = request.headers.get("X-GitHub-Delivery", "")
    return JsonResponse({"status": "accepted", "delivery": delivery}, status=202)


@csrf_exempt
@require_POST
def verify_and_insert(request: HttpRequest) -> JsonResponse:
    body = _verified_body(request)
    if body is None:
        return JsonResponse({"detail": "bad signature"}, status=401)
    delivery = request.headers.get("X-GitHub-Delivery", "")
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT, [delivery, request.headers.get("X-GitHub-Event", ""), body.decode("utf-8")]
        )
    return JsonResponse({"status": "accepted", "delivery": delivery}, status=202)


urlpatterns = [
    path("_bench/ceiling/verify", verify_only),
    path("_bench/ceiling/insert", verify_and_insert),
    path("", include("config.urls")),
]
