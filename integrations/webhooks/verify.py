"""Checks an incoming webhook must pass before it is stored, each failing with a Rejection.

Signatures follow the Standard Webhooks specification (webhook-id, webhook-timestamp,
webhook-signature = "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>", several
space-separated during rotation) and are verified with the `standardwebhooks` package against
every active secret of the integration and source (two at once while a secret is rotated).
"""

import binascii
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# Systems that may call us, and the content types each sends.
SOURCE_CONTENT_TYPES: dict[str, frozenset[str]] = {
    "prestashop": frozenset({"application/json"}),
    "infor": frozenset({"application/xml", "text/xml", "application/json"}),
    "tims": frozenset({"application/json"}),
}
# Raw (and decompressed) body cap; over it the answer is 413 before anything is parsed.
MAX_BODY_BYTES = getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
# How far webhook-timestamp may be from our clock (the specification's 5 minutes).
TOLERANCE_SECONDS = getattr(settings, "WEBHOOK_TOLERANCE_SECONDS", 300)
# Content-Encoding values we undo (bounded, so a compression bomb stops at the cap).
DECOMPRESSORS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "x-gzip": 16 + 15}
# The reason names a sender sees; stable, so that the sender's logs can be grepped.
MISSING_SIGNATURE = "missing_signature"
BAD_SIGNATURE = "bad_signature"
TIMESTAMP_OUTSIDE_WINDOW = "timestamp_outside_window"


@dataclass
class Rejection(Exception):
    """A refused webhook: HTTP status, a stable error code and a reason a person can act on."""

    status: int
    error: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "reason": self.reason}


def media_type(content_type: str) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(*, source: str, content_type: str) -> str:
    wanted = SOURCE_CONTENT_TYPES[source]
    kind = media_type(content_type)
    if kind not in wanted:
        raise Rejection(
            415,
            "unsupported_media_type",
            f"{source} webhooks must be sent as {' or '.join(sorted(wanted))}, "
            f"not {kind or 'no Content-Type'}",
        )
    return kind


def decode_body(raw: bytes, *, content_encoding: str, limit: int = MAX_BODY_BYTES) -> bytes:
    """Undo Content-Encoding without ever holding more than `limit` bytes of output."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    wbits = DECOMPRESSORS.get(encoding)
    if wbits is None:
        raise Rejection(
            415,
            "unsupported_content_encoding",
            f"Content-Encoding {encoding!r} is not accepted; send identity, gzip or deflate",
        )
    decompressor = zlib.decompressobj(wbits)
    try:
        body = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise Rejection(400, "malformed_body", f"the body is not valid {encoding} data") from None
    if len(body) > limit or decompressor.unconsumed_tail:
        raise Rejection(
            413,
            "body_too_large",
            f"the body expands beyond {limit} bytes once decompressed (a compression bomb?)",
        )
    return body


def verify_signature(
    *,
    body: str,
    headers: dict[str, str],
    secrets: list[str],
    source: str,
    now: datetime | None = None,
) -> str:
    """Verify the Standard Webhooks headers against every active secret; returns webhook-id."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "").strip()
    stamp = lowered.get("webhook-timestamp", "").strip()
    signature = lowered.get("webhook-signature", "").strip()
    missing = [
        name
        for name, value in (
            ("webhook-id", msg_id),
            ("webhook-timestamp", stamp),
            ("webhook-signature", signature),
        )
        if not value
    ]
    if missing:
        raise Rejection(401, MISSING_SIGNATURE, f"missing header(s): {', '.join(missing)}")
    if len(msg_id) > 255:
        raise Rejection(400, "malformed_headers", "webhook-id is longer than 255 characters")
    try:
        sent_at = int(stamp)
    except ValueError:
        raise Rejection(
            401, TIMESTAMP_OUTSIDE_WINDOW, f"webhook-timestamp {stamp[:40]!r} is not unix seconds"
        ) from None
    skew = (now or timezone.now()).timestamp() - sent_at
    if abs(skew) > TOLERANCE_SECONDS:
        raise Rejection(
            401,
            TIMESTAMP_OUTSIDE_WINDOW,
            f"webhook-timestamp is {abs(round(skew))} s {'old' if skew > 0 else 'ahead'}; "
            f"the window is ±{TOLERANCE_SECONDS} s (a replay, or the sender's clock is off)",
        )
    checked = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    for secret in secrets:
        if _matches(secret, body, checked):
            return msg_id
    raise Rejection(
        401,
        BAD_SIGNATURE,
        f"webhook-signature matches none of the {len(secrets)} active {source} secret(s) of "
        "this integration; the sender must sign with the current secret",
    )


def _matches(secret: str, body: str, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError, binascii.Error):
        # ValueError covers a signature without "v1," and bad base64 (binascii.Error).
        return False
    except Exception:  # noqa: BLE001  (a stored secret that is not whsec_/base64)
        return False
    return True


def active_secrets(webhook_secrets: Any, source: str) -> list[str]:
    """The source's secrets, newest first, at most two (rotation)."""
    values = (webhook_secrets or {}).get(source) if isinstance(webhook_secrets, dict) else None
    if isinstance(values, str):
        values = [values]
    return [v for v in (values or []) if isinstance(v, str) and v][:2]
