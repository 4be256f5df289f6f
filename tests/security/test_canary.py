"""Proof that secrets do not leak: canary credentials used through a demo run are absent from
a database dump, every log line, and the stored payloads.

The run is the headless demo's (integrations.management.commands.demo): simulators on free
ports, an integration wired to them, orders placed and run through the pipeline. The shop's
webservice key, the M3 client secret and service-account secret key, and the integration's
webhook secret are fresh random canaries. The simulators accept only the canaries, so a
successful run proves they were used. An order is also run with a wrong (canary) key, so the
error path (AuthError text stored on the record) is covered. Logging goes to a file through
the project's own LOGGING (every handler redacts), at DEBUG.
"""

import copy
import json
import logging
import logging.config
import secrets
import string
import subprocess
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from standardwebhooks.webhooks import Webhook

from connectors.infor.simulator import M3Simulator
from connectors.prestashop.simulator import PrestaShopSimulator
from integrations.flows.registry import clear_flow_cache
from integrations.management.commands.demo import drain, simulated_integration
from integrations.models import Link, Status, SyncAttempt, SyncRecord, WebhookEvent
from integrations.services.orders import order_sync_enqueue
from integrations.subscriptions.signing import secret_generate
from mappings.engine import clear_cache

ORDERS = 6


def canary_key() -> str:
    """A PrestaShop webservice key (32 of [A-Z0-9]) that is also a unique canary."""
    alphabet = string.ascii_uppercase + string.digits
    return "CANARY" + "".join(secrets.choice(alphabet) for _ in range(26))


@pytest.fixture
def log_file(tmp_path: Path):
    """The project's LOGGING, with its console handler writing to a file instead, at DEBUG."""
    path = tmp_path / "demo.log"
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"] = {
        **{k: v for k, v in config["handlers"]["console"].items() if k != "class"},
        "class": "logging.FileHandler",
        "filename": str(path),
    }
    config["root"]["level"] = "DEBUG"
    logging.config.dictConfig(config)
    try:
        yield path
    finally:
        logging.config.dictConfig(settings.LOGGING)


def database_dump() -> str:
    """Every row of every table, as SQL: SQLite's iterdump, or pg_dump on PostgreSQL."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    params = connection.settings_dict
    result = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--no-owner",
            "-h",
            params.get("HOST") or "127.0.0.1",
            "-p",
            str(params.get("PORT") or 5432),
            "-U",
            params.get("USER") or "postgres",
            params["NAME"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PGPASSWORD": params.get("PASSWORD") or "", "PATH": "/usr/bin:/bin"},
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_canary_secrets_are_absent_from_database_dump_logs_and_payloads(log_file):
    clear_flow_cache()
    clear_cache()
    shop_key, wrong_key = canary_key(), canary_key()
    m3_secret = f"canary-m3-cs-{secrets.token_hex(16)}"
    m3_sask = f"canary-m3-sask-{secrets.token_hex(16)}"
    webhook_secret = secret_generate()  # whsec_ + base64 of random bytes: a canary too
    canaries = [shop_key, wrong_key, m3_secret, m3_sask, webhook_secret]

    with (
        PrestaShopSimulator(seed=11, orders=0) as shop,
        M3Simulator(seed=11, customers=0) as erp,
    ):
        shop.keys.clear()
        shop.add_key(shop_key)
        erp.client_secret, erp.sask = m3_secret, m3_sask
        integration = simulated_integration(shop=shop, erp=erp, slug="canary")
        shop_connection = integration.shop_connection
        shop_connection.credentials = {"api_key": shop_key}
        shop_connection.save()
        integration.webhook_secrets = {"prestashop": [webhook_secret]}
        integration.save()

        for _ in range(ORDERS):
            order = shop.place_order(state_id=2, stock=False)
            order_sync_enqueue(
                integration=integration,
                order_id=str(order["id"]),
                reference=order["reference"],
                enqueue=False,
            )
        drain(concurrency=4)
        linked = Link.objects.filter(integration=integration, entity="order").count()
        assert linked == ORDERS, "the run must succeed, or it proves nothing about the canaries"
        assert erp.grants["password"] >= 1  # the M3 canaries fetched a token

        # A signed webhook through the endpoint, with a bearer canary in its headers.
        body = json.dumps(
            {"type": "order.created", "data": {"resource": "orders", "id": 1, "date_upd": ""}}
        )
        now = datetime.now(UTC)
        bearer = f"canary-bearer-{secrets.token_hex(16)}"
        canaries.append(bearer)
        response = Client().post(
            "/webhooks/canary/prestashop/",
            data=body,
            content_type="application/json",
            headers={
                "webhook-id": "msg_canary",
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(webhook_secret).sign("msg_canary", now, body),
                "Authorization": f"Bearer {bearer}",
            },
        )
        assert response.status_code == 202, response.content
        assert WebhookEvent.objects.filter(event_id="msg_canary").exists()

        # The error path: the shop no longer accepts the stored key.
        shop_connection.credentials = {"api_key": wrong_key}
        shop_connection.save()
        clear_flow_cache()
        order = shop.place_order(state_id=2, stock=False)
        order_sync_enqueue(
            integration=integration,
            order_id=str(order["id"]),
            reference=order["reference"],
            enqueue=False,
        )
        drain(concurrency=1)
        failed = SyncRecord.objects.get(integration=integration, source_id=str(order["id"]))
        assert failed.status == Status.NEEDS_ATTENTION, failed.status
        assert "auth" in (failed.error_class + failed.error_message).lower()

    for handler in logging.getLogger().handlers:
        handler.flush()
    logs = log_file.read_text()
    assert logs.count("\n") > ORDERS, "the run must have logged (DEBUG: every HTTP call)"
    dump = database_dump()
    exported = StringIO()
    call_command("dumpdata", "connectors", "integrations", stdout=exported)
    stored = json.dumps(
        [
            list(
                SyncRecord.objects.values("payload_in", "payload_out", "context", "error_message")
            ),
            list(SyncAttempt.objects.values("error_message", "error_value")),
            list(WebhookEvent.objects.values("headers", "body", "error")),
        ],
        default=str,
    )
    places = {
        "database dump": dump,
        "logs": logs,
        "dumpdata": exported.getvalue(),
        "stored": stored,
    }
    leaks = [
        f"{canary[:12]}… in {where}"
        for canary in canaries
        for where, text in places.items()
        if canary in text
    ]
    assert not leaks, leaks
    # The dump is real: the rows are there, and the credentials in it are ciphertext.
    assert "canary" in dump and "gAAAAA" in dump
