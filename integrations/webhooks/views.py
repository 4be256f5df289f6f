"""POST /webhooks/<integration>/<source>/: verify, store raw, acknowledge. No logic here beyond
the order of the checks; every refusal is JSON {"error", "reason"} and never a 500."""

import logging

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from connectors.redaction import redact_headers
from integrations.webhooks.parsing import parse_event
from integrations.webhooks.processing import webhook_event_receive
from integrations.webhooks.targets import webhook_target
from integrations.webhooks.verify import (
    MAX_BODY_BYTES,
    SOURCE_CONTENT_TYPES,
    Rejection,
    active_secrets,
    check_content_type,
    decode_body,
    verify_signature,
)

logger = logging.getLogger(__name__)


@csrf_exempt
def webhook_receive(request: HttpRequest, integration: str, source: str) -> JsonResponse:
    try:
        return _receive(request, integration, source)
    except Rejection as rejection:
        return JsonResponse(rejection.as_dict(), status=rejection.status)
    except DatabaseError:
        logger.exception("webhook %s/%s: the database refused the event", integration, source)
        return JsonResponse(
            {"error": "unavailable", "reason": "the event could not be stored; retry later"},
            status=503,
        )


def _receive(request: HttpRequest, slug: str, source: str) -> JsonResponse:
    if request.method != "POST":
        response = JsonResponse(
            {"error": "method_not_allowed", "reason": "webhooks are delivered with POST"},
            status=405,
        )
        response["Allow"] = "POST"
        return response
    if source not in SOURCE_CONTENT_TYPES:
        raise Rejection(
            404,
            "unknown_source",
            f"unknown source {source!r}; one of: {', '.join(SOURCE_CONTENT_TYPES)}",
        )
    target = webhook_target(slug)
    if target is None:
        raise Rejection(404, "unknown_integration", f"no integration {slug!r}")
    secrets = active_secrets(target.webhook_secrets, source)
    if not secrets:
        raise Rejection(
            404, "unknown_source", f"integration {slug!r} has no {source} webhook secret set up"
        )
    content_type = check_content_type(source=source, content_type=request.content_type or "")
    raw = _read_body(request)
    body = decode_body(raw, content_encoding=request.headers.get("Content-Encoding", ""))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejection(400, "malformed_body", "the body is not UTF-8") from None
    event_id = verify_signature(
        body=text, headers=dict(request.headers), secrets=secrets, source=source
    )
    parsed = parse_event(body=text, content_type=content_type)
    event = webhook_event_receive(
        integration_id=target.integration_id,
        source=source,
        event_id=event_id,
        event_type=parsed.event_type,
        headers=redact_headers(dict(request.headers)),
        body=text,
    )
    if event is None:
        return JsonResponse({"status": "duplicate", "webhook_id": event_id}, status=200)
    return JsonResponse({"status": "accepted", "webhook_id": event_id}, status=202)


def _read_body(request: HttpRequest) -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes, refusing early when Content-Length says too much."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Rejection(400, "malformed_headers", "Content-Length is not a number") from None
    if declared > MAX_BODY_BYTES:
        raise Rejection(
            413, "body_too_large", f"the body is {declared} bytes; the limit is {MAX_BODY_BYTES}"
        )
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise Rejection(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not raw:
        raise Rejection(400, "malformed_body", "the body is empty")
    return raw
