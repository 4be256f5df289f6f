"""Shared helpers: an integration with webhook secrets, and signed requests to the endpoint."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from integrations.subscriptions.signing import secret_generate
from tests.factories import IntegrationFactory

FLOWS = ["order_to_cash", "customers", "products", "inventory", "status_back", "test_noop"]


@pytest.fixture
def secret() -> str:
    return secret_generate()


@pytest.fixture
def integration(db, secret):
    return IntegrationFactory(
        slug="shop-a",
        enabled_flows=FLOWS,
        webhook_secrets={"prestashop": [secret], "infor": [secret], "tims": [secret]},
    )


def thin_event(event_type: str = "order.created", **data) -> str:
    data = {"resource": "orders", "id": 42, "date_upd": "2026-11-24 10:00:00", **data}
    return json.dumps({"type": event_type, "timestamp": "2026-11-24T09:00:00+00:00", "data": data})


def signed_headers(
    body: str | bytes,
    secret: str,
    *,
    msg_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = timestamp or datetime.now(UTC)
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, text),
    }


def post(
    client,
    body: str | bytes,
    headers: dict[str, str],
    *,
    slug: str = "shop-a",
    source: str = "prestashop",
    content_type: str = "application/json",
):
    return client.post(
        f"/webhooks/{slug}/{source}/",
        data=body,
        content_type=content_type,
        headers=headers,
    )
