"""POST /api/webhooks/<source>: the receiving end of GitHub's and Slack's webhooks.

A plain Django view rather than DRF: the upstream authenticates by signature, not
by session, and this is the hub's hottest request path (see benchmarks/webhooks.py).
It reads the body itself, within WEBHOOK_MAX_BYTES, because `request.body` refuses
anything over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) and GitHub sends up to 25 MiB.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingestion.webhooks import WebhookRefused, accept, count_refusal, get_receiver


def _refusal(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_large = WebhookRefused(
        413, "too_large", f"The body is larger than WEBHOOK_MAX_BYTES ({limit} bytes)."
    )
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


@csrf_exempt
@require_POST
def receive_webhook(request: HttpRequest, source: str) -> JsonResponse:
    if get_receiver(source) is None:
        return _refusal(404, f"No webhooks for source {source!r}.")
    try:
        body = _read_body(request)
    except WebhookRefused as refused:
        count_refusal(source, refused.reason)
        return _refusal(refused.status, str(refused))
    try:
        accepted = accept(source, body, request.headers)
    except WebhookRefused as refused:
        return _refusal(refused.status, str(refused))
    return JsonResponse(accepted.body, status=accepted.status)
