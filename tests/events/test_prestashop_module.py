"""The PrestaShop module: every PHP file parses, its signer agrees with standardwebhooks on
shared vectors, and an event it builds and signs is accepted by our endpoint. Skipped where
`php` is not installed (CI installs php-cli)."""

import base64
import json
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from integrations.models import SyncRecord, WebhookEvent
from integrations.webhooks.processing import webhook_events_process
from tests.events.conftest import post

MODULE = (
    Path(__file__).resolve().parents[2]
    / "connectors"
    / "prestashop"
    / "module"
    / "shopsyncwebhooks"
)
PHP = shutil.which("php")
needs_php = pytest.mark.skipif(PHP is None, reason="php is not installed (apt-get install php-cli)")

# Shared test vectors: (secret, webhook-id, timestamp, body).
VECTORS = [
    (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    ),
    (
        "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtMTIzNDU2Nzg5MA==",
        "msg_1",
        1764000000,
        '{"type":"order.created","data":{"resource":"orders","id":42,"reference":"ÉTÉ-été"}}',
    ),
    # Unpadded base64, as some senders store it.
    ("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtMTIzNDU2Nzg5MA", "msg_2", 1, ""),
]


def php(code: str) -> str:
    prelude = (
        "define('_PS_VERSION_', '8.1.0');"
        f"require '{MODULE}/classes/ShopSyncSigner.php';"
        f"require '{MODULE}/classes/ShopSyncEvent.php';"
    )
    result = subprocess.run(
        [PHP, "-r", prelude + code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@needs_php
@pytest.mark.parametrize("path", sorted(MODULE.rglob("*.php")), ids=lambda p: p.name)
def test_every_php_file_parses(path):
    result = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_php
@pytest.mark.parametrize(("secret", "msg_id", "timestamp", "body"), VECTORS)
def test_the_php_signer_agrees_with_standardwebhooks(secret, msg_id, timestamp, body):
    signed = php(
        f"echo ShopSyncSigner::sign({json.dumps(secret)}, {json.dumps(msg_id)}, {timestamp}, "
        f"base64_decode({json.dumps(_b64(body))}));"
    )
    expected = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)
    assert signed == expected


@needs_php
def test_a_bad_secret_is_refused_by_the_php_signer():
    out = php(
        "try { ShopSyncSigner::sign('whsec_***', 'm', 1, 'b'); echo 'signed'; }"
        " catch (InvalidArgumentException $e) { echo 'refused'; }"
    )
    assert out == "refused"


@needs_php
@pytest.mark.django_db
def test_an_event_the_module_builds_and_signs_is_accepted_and_routed(client, integration, secret):
    out = php(
        "$body = ShopSyncEvent::build('order.created', 'orders', 42, '2026-11-24 10:00:00', 1,"
        " array('reference' => 'XKBKNABJK', 'email' => 'pub@example.com'));"
        "$id = ShopSyncSigner::newMessageId();"
        f"$h = ShopSyncSigner::headers({json.dumps(secret)}, $id, time(), $body);"
        "echo json_encode(array('body' => $body, 'headers' => $h));"
    )
    sent = json.loads(out)
    headers = dict(line.split(": ", 1) for line in sent["headers"])
    content_type = headers.pop("Content-Type")
    response = post(client, sent["body"], headers, content_type=content_type)
    assert response.status_code == 202, response.content
    event = WebhookEvent.objects.get()
    data = json.loads(event.body)["data"]
    # Thin: ids and dates only; a personal field passed by mistake is dropped.
    assert set(data) == {"resource", "id", "date_upd", "shop_id", "ps_version", "reference"}
    webhook_events_process()
    record = SyncRecord.objects.get()
    assert (record.flow, record.idempotency_key, record.reference) == (
        "order_to_cash",
        "prestashop:42",
        "XKBKNABJK",
    )


@needs_php
@pytest.mark.django_db
def test_a_combination_event_from_the_module_opens_its_items_record(client, integration, secret):
    # The module sends the reference, so the record is the item's own (the key the ERP's scan
    # uses), not a lookup record that must read the combination first.
    out = php(
        "$body = ShopSyncEvent::build('combination.updated', 'combinations', 7,"
        " '2026-11-24 10:00:00', 1, array('reference' => 'SKU-7-RED', 'id_product' => 3));"
        "$id = ShopSyncSigner::newMessageId();"
        f"$h = ShopSyncSigner::headers({json.dumps(secret)}, $id, time(), $body);"
        "echo json_encode(array('body' => $body, 'headers' => $h));"
    )
    sent = json.loads(out)
    headers = dict(line.split(": ", 1) for line in sent["headers"])
    response = post(client, sent["body"], headers, content_type=headers.pop("Content-Type"))
    assert response.status_code == 202, response.content
    webhook_events_process()
    record = SyncRecord.objects.get()
    assert (record.flow, record.idempotency_key) == ("products", "product:SKU-7-RED")


def test_the_build_script_makes_an_installable_zip(tmp_path):
    if shutil.which("sh") is None:
        pytest.skip("no POSIX shell")
    result = subprocess.run(
        ["sh", str(MODULE / "build.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    archive = Path(result.stdout.strip())
    assert archive.name == "shopsyncwebhooks-1.0.0.zip"
    names = zipfile.ZipFile(archive).namelist()
    assert "shopsyncwebhooks/shopsyncwebhooks.php" in names
    assert "shopsyncwebhooks/controllers/front/cron.php" in names
    assert all(n.startswith("shopsyncwebhooks/") for n in names)
    assert not any(n.endswith("build.sh") for n in names)


def test_the_module_registers_the_hooks_the_issue_names():
    source = (MODULE / "shopsyncwebhooks.php").read_text()
    for hook in (
        "actionValidateOrder",
        "actionOrderStatusPostUpdate",
        "actionObjectCustomerAddAfter",
        "actionObjectCustomerUpdateAfter",
        "actionObjectAddressAddAfter",
        "actionUpdateQuantity",
        "actionObjectProductAddAfter",
        "actionObjectProductUpdateAfter",
        "actionObjectCombinationAddAfter",
        "actionObjectCombinationUpdateAfter",
    ):
        assert f"'{hook}'" in source
        assert f"function hook{hook[0].upper()}{hook[1:]}(" in source


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
