"""POST /api/webhooks/github refuses what GitHub did not sign, and stores nothing of it."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from ingestion.choices import DeliveryStatus
from ingestion.models import WebhookDelivery, WebhookRefusal
from tests.webhooks.conftest import GITHUB_URL

pytestmark = pytest.mark.django_db

PAYLOAD = {"action": "opened", "repository": {"id": 1, "full_name": "octo/hub"}}


def refusals(reason: str) -> int:
    row = WebhookRefusal.objects.filter(source="github", reason=reason).first()
    return row.count if row else 0


def test_a_signed_delivery_is_stored_and_answered_202(github_hook):
    response = github_hook.post("issues", PAYLOAD, delivery_id="d-1")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.source, delivery.delivery_id, delivery.event, delivery.action) == (
        "github",
        "d-1",
        "issues",
        "opened",
    )
    assert json.loads(delivery.body) == PAYLOAD
    assert delivery.status == DeliveryStatus.PENDING


def test_a_wrong_secret_is_refused_with_401_and_only_counted(github_hook):
    response = github_hook.post("issues", PAYLOAD, secret="not-the-secret")

    assert response.status_code == 401
    assert "X-Hub-Signature-256 does not match" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()
    assert refusals("bad_signature") == 1


def test_an_altered_body_is_refused(github_hook):
    body = json.dumps(PAYLOAD).encode()
    signed = github_hook.post("issues", PAYLOAD, body=body).wsgi_request.headers
    signature = signed["X-Hub-Signature-256"]

    response = github_hook.post(
        "issues",
        PAYLOAD,
        body=body.replace(b"opened", b"closed"),
        headers={"X-Hub-Signature-256": signature},
    )

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 1  # only the first, untouched one


def test_a_missing_signature_is_refused(github_hook):
    response = github_hook.post("issues", PAYLOAD, headers={"X-Hub-Signature-256": None})

    assert response.status_code == 401
    assert response.json()["detail"] == "X-Hub-Signature-256 is missing."
    assert not WebhookDelivery.objects.exists()
    assert refusals("no_signature") == 1


def test_a_sha1_signature_alone_is_refused(github_hook):
    # X-Hub-Signature (SHA-1) is GitHub's legacy header; only SHA-256 is trusted.
    response = github_hook.post(
        "issues",
        PAYLOAD,
        headers={"X-Hub-Signature-256": None, "X-Hub-Signature": "sha1=0123"},
    )

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_without_a_configured_secret_every_delivery_is_refused(github_hook, settings):
    settings.GITHUB_WEBHOOK_SECRET = []

    response = github_hook.post("issues", PAYLOAD)

    assert response.status_code == 401
    assert "GITHUB_WEBHOOK_SECRET is not set" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


def test_a_delivery_signed_with_the_previous_secret_is_accepted_while_rotating(
    github_hook, settings
):
    settings.GITHUB_WEBHOOK_SECRET = ["new-secret", "old-secret"]

    old = github_hook.post("issues", PAYLOAD, secret="old-secret")
    new = github_hook.post("issues", PAYLOAD, secret="new-secret")
    retired = github_hook.post("issues", PAYLOAD, secret="retired-secret")

    assert (old.status_code, new.status_code, retired.status_code) == (202, 202, 401)
    assert WebhookDelivery.objects.count() == 2


def test_a_body_over_the_limit_is_refused_with_413(github_hook, settings):
    settings.WEBHOOK_MAX_BYTES = 1000
    payload = {**PAYLOAD, "padding": "x" * 1000}

    response = github_hook.post("issues", payload)

    assert response.status_code == 413
    assert "WEBHOOK_MAX_BYTES (1000 bytes)" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()
    assert refusals("too_large") == 1


def test_a_body_just_under_the_limit_is_accepted(github_hook, settings):
    body = json.dumps({**PAYLOAD, "padding": "x" * 500}).encode()
    settings.WEBHOOK_MAX_BYTES = len(body)

    response = github_hook.post("issues", None, body=body)

    assert response.status_code == 202


def test_a_body_over_djangos_upload_limit_but_under_ours_is_accepted(github_hook, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = {**PAYLOAD, "padding": "x" * 5000}

    response = github_hook.post("issues", payload)

    assert response.status_code == 202


def test_a_signed_body_that_is_not_json_is_refused_with_400(github_hook):
    response = github_hook.post("issues", None, body=b"<xml>not json</xml>")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body is not JSON")
    assert not WebhookDelivery.objects.exists()
    assert refusals("not_json") == 1


def test_a_json_array_is_refused_with_400(github_hook):
    response = github_hook.post("issues", [1, 2, 3])

    assert response.status_code == 400
    assert response.json()["detail"] == "The body must be a JSON object."


def test_a_form_encoded_delivery_is_read_from_its_payload_field(github_hook):
    # GitHub's default content type for a new webhook.
    body = urlencode({"payload": json.dumps(PAYLOAD)}).encode()

    response = github_hook.post(
        "issues", None, body=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 202
    assert json.loads(WebhookDelivery.objects.get().body) == PAYLOAD


def test_a_form_body_without_a_payload_field_is_refused(github_hook):
    response = github_hook.post(
        "issues", None, body=b"other=1", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert "no `payload` field" in response.json()["detail"]


def test_a_delivery_without_its_id_is_refused(github_hook):
    response = github_hook.post("issues", PAYLOAD, headers={"X-GitHub-Delivery": None})

    assert response.status_code == 400
    assert response.json()["detail"] == "X-GitHub-Delivery is missing."
    assert not WebhookDelivery.objects.exists()


def test_a_delivery_without_its_event_is_refused(github_hook):
    response = github_hook.post("issues", PAYLOAD, headers={"X-GitHub-Event": None})

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_ping_is_answered_200_and_stores_nothing(github_hook):
    response = github_hook.post("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})

    assert response.status_code == 200
    assert not WebhookDelivery.objects.exists()


def test_a_get_is_not_allowed(client):
    assert client.get(GITHUB_URL).status_code == 405


def test_an_unknown_source_is_404(client):
    response = client.post("/api/webhooks/gitlab", b"{}", content_type="application/json")

    assert response.status_code == 404


def test_refusals_and_deliveries_show_in_prometheus_metrics(github_hook, staff_client):
    github_hook.post("issues", PAYLOAD, secret="wrong")
    github_hook.post("issues", PAYLOAD)

    text = staff_client.get("/metrics").content.decode()

    assert 'hub_webhook_refused_total{reason="bad_signature",source="github"} 1.0' in text
    assert 'hub_webhook_deliveries{source="github",status="pending"} 1.0' in text
