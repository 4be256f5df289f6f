"""POST /webhooks/<integration>/<source>/: what is accepted, stored, and every refusal."""

import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from integrations.models import WebhookEvent
from integrations.subscriptions.signing import secret_generate
from integrations.webhooks import verify
from tests.events.conftest import post, signed_headers, thin_event

pytestmark = pytest.mark.django_db


def assert_refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "reason"}
    assert body["error"] == error
    assert body["reason"]
    assert WebhookEvent.objects.count() == 0
    return body


def test_a_signed_event_is_stored_raw_with_secrets_redacted_before_the_2xx(
    client, integration, secret
):
    body = thin_event()
    headers = signed_headers(body, secret, msg_id="msg_1")
    response = post(client, body, {**headers, "Authorization": "Bearer abcdefghijkl"})
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "webhook_id": "msg_1"}
    event = WebhookEvent.objects.get()
    assert (event.integration, event.source, event.event_id) == (integration, "prestashop", "msg_1")
    assert event.event_type == "order.created"
    assert event.body == body
    assert event.state == WebhookEvent.State.RECEIVED
    assert event.headers["Webhook-Signature"] == "***"
    assert event.headers["Authorization"] == "***"
    assert event.headers["Webhook-Id"] == "msg_1"
    assert headers["webhook-signature"] not in json.dumps(event.headers)


def test_a_repeated_webhook_id_is_acknowledged_and_not_stored_again(client, integration, secret):
    body = thin_event()
    first = post(client, body, signed_headers(body, secret, msg_id="msg_dup"))
    # The sender retries later: a new timestamp and signature, the same id.
    again = post(client, body, signed_headers(body, secret, msg_id="msg_dup"))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1


def test_the_same_id_from_another_source_is_another_event(client, integration, secret):
    body = thin_event(event_type="order.status_changed")
    assert post(client, body, signed_headers(body, secret, msg_id="m")).status_code == 202
    assert (
        post(client, body, signed_headers(body, secret, msg_id="m"), source="tims").status_code
        == 202
    )
    assert WebhookEvent.objects.count() == 2


def test_a_wrong_secret_is_refused(client, integration):
    body = thin_event()
    response = post(client, body, signed_headers(body, secret_generate()))
    assert_refused(response, 401, "bad_signature")


def test_a_tampered_body_is_refused(client, integration, secret):
    headers = signed_headers(thin_event(), secret)
    assert_refused(post(client, thin_event(id=43), headers), 401, "bad_signature")


def test_during_rotation_both_secrets_verify_and_a_retired_one_does_not(
    client, integration, secret
):
    new = secret_generate()
    integration.webhook_secrets = {"prestashop": [new, secret]}
    integration.save()
    for key in (new, secret):
        body = thin_event(id=len(key))
        assert post(client, body, signed_headers(body, key)).status_code == 202
    # Rotation done: only the new secret is kept.
    integration.webhook_secrets = {"prestashop": [new]}
    integration.save()
    body = thin_event(id=7)
    assert post(client, body, signed_headers(body, secret)).status_code == 401
    assert post(client, body, signed_headers(body, new)).status_code == 202
    assert WebhookEvent.objects.count() == 3


def test_a_sender_signing_with_both_secrets_during_rotation_is_accepted(
    client, integration, secret
):
    body = thin_event()
    other = secret_generate()
    headers = signed_headers(body, other, msg_id="m2")
    mine = signed_headers(
        body,
        secret,
        msg_id="m2",
        timestamp=datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC),
    )
    headers["webhook-signature"] = f"{headers['webhook-signature']} {mine['webhook-signature']}"
    assert post(client, body, headers).status_code == 202


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_signature_header_is_refused(client, integration, secret, missing):
    body = thin_event()
    headers = signed_headers(body, secret)
    del headers[missing]
    body = assert_refused(post(client, body, headers), 401, "missing_signature")
    assert missing in body["reason"]


@pytest.mark.parametrize("signature", ["garbage", "v1,not-base64!!", "v2,abc=", "v1,"])
def test_a_malformed_signature_is_refused_not_a_500(client, integration, secret, signature):
    body = thin_event()
    headers = {**signed_headers(body, secret), "webhook-signature": signature}
    assert_refused(post(client, body, headers), 401, "bad_signature")


def test_an_old_timestamp_replayed_is_refused(client, integration, secret):
    body = thin_event()
    captured = signed_headers(body, secret, timestamp=datetime.now(UTC) - timedelta(minutes=6))
    body_json = assert_refused(post(client, body, captured), 401, "timestamp_outside_window")
    assert "old" in body_json["reason"]


def test_a_timestamp_from_the_future_is_refused(client, integration, secret):
    body = thin_event()
    headers = signed_headers(body, secret, timestamp=datetime.now(UTC) + timedelta(minutes=6))
    assert_refused(post(client, body, headers), 401, "timestamp_outside_window")


def test_a_timestamp_that_is_not_a_number_is_refused(client, integration, secret):
    body = thin_event()
    headers = {**signed_headers(body, secret), "webhook-timestamp": "yesterday"}
    assert_refused(post(client, body, headers), 401, "timestamp_outside_window")


def test_a_timestamp_within_the_window_is_accepted(client, integration, secret):
    body = thin_event()
    headers = signed_headers(body, secret, timestamp=datetime.now(UTC) - timedelta(minutes=4))
    assert post(client, body, headers).status_code == 202


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1, 2]", '{"data": {}}', '{"type": "", "data": {}}', '{"type": "x", "data": 1}'],
)
def test_a_malformed_body_is_refused_even_when_signed(client, integration, secret, body):
    assert_refused(post(client, body, signed_headers(body, secret)), 400, "malformed_body")


def test_a_body_that_is_not_utf8_is_refused(client, integration, secret):
    raw = b'{"type": "order.created", "data": {"x": "\xff"}}'
    headers = signed_headers("x", secret)
    assert_refused(post(client, raw, headers), 400, "malformed_body")


def test_an_empty_body_is_refused(client, integration, secret):
    response = client.generic(
        "POST",
        "/webhooks/shop-a/prestashop/",
        b"",
        headers=signed_headers("", secret),
        CONTENT_TYPE="application/json",  # the test client drops content_type without data
    )
    assert_refused(response, 400, "malformed_body")


def test_an_oversized_body_is_refused_before_it_is_read(client, integration, secret):
    body = thin_event(padding="x" * verify.MAX_BODY_BYTES)
    body_json = assert_refused(
        post(client, body, signed_headers(body, secret)), 413, "body_too_large"
    )
    assert str(verify.MAX_BODY_BYTES) in body_json["reason"]


def test_a_body_just_under_the_limit_is_accepted(client, integration, secret):
    body = thin_event(padding="")
    body = thin_event(padding="x" * (verify.MAX_BODY_BYTES - len(body) - 10))
    assert len(body.encode()) <= verify.MAX_BODY_BYTES
    assert post(client, body, signed_headers(body, secret)).status_code == 202


def test_the_limit_is_a_setting(client, integration, secret, monkeypatch):
    monkeypatch.setattr("integrations.webhooks.views.MAX_BODY_BYTES", 100)
    body = thin_event()
    assert_refused(post(client, body, signed_headers(body, secret)), 413, "body_too_large")


def test_a_small_gzip_body_is_accepted_and_stored_decompressed(client, integration, secret):
    body = thin_event()
    headers = {**signed_headers(body, secret), "Content-Encoding": "gzip"}
    assert post(client, gzip.compress(body.encode()), headers).status_code == 202
    assert WebhookEvent.objects.get().body == body


def test_a_compression_bomb_is_refused_cleanly(client, integration, secret):
    # 50 MiB of zeros compress to ~50 KiB: small on the wire, far over the limit expanded.
    bomb = gzip.compress(b"0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < verify.MAX_BODY_BYTES
    headers = {**signed_headers("x", secret), "Content-Encoding": "gzip"}
    body_json = assert_refused(post(client, bomb, headers), 413, "body_too_large")
    assert "decompressed" in body_json["reason"]


def test_a_deflate_bomb_is_refused_cleanly(client, integration, secret):
    bomb = zlib.compress(b"{" * (20 * 1024 * 1024), 9)
    headers = {**signed_headers("x", secret), "Content-Encoding": "deflate"}
    assert_refused(post(client, bomb, headers), 413, "body_too_large")


def test_corrupt_compressed_data_is_refused(client, integration, secret):
    headers = {**signed_headers("x", secret), "Content-Encoding": "gzip"}
    assert_refused(post(client, b"not gzip at all", headers), 400, "malformed_body")


def test_an_unknown_content_encoding_is_refused(client, integration, secret):
    headers = {**signed_headers("x", secret), "Content-Encoding": "br"}
    assert_refused(post(client, b"...", headers), 415, "unsupported_content_encoding")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_wrong_content_type_is_refused(client, integration, secret, content_type):
    body = thin_event()
    response = post(client, body, signed_headers(body, secret), content_type=content_type)
    assert_refused(response, 415, "unsupported_media_type")


def test_json_with_a_charset_is_accepted(client, integration, secret):
    body = thin_event()
    response = post(
        client, body, signed_headers(body, secret), content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 202


def test_an_unknown_integration_is_404(client, integration, secret):
    body = thin_event()
    response = post(client, body, signed_headers(body, secret), slug="nope")
    assert_refused(response, 404, "unknown_integration")


def test_an_unknown_source_is_404(client, integration, secret):
    body = thin_event()
    response = post(client, body, signed_headers(body, secret), source="shopify")
    assert_refused(response, 404, "unknown_source")


def test_a_source_without_a_secret_is_404(client, integration, secret):
    integration.webhook_secrets = {"infor": [secret]}
    integration.save()
    body = thin_event()
    assert_refused(post(client, body, signed_headers(body, secret)), 404, "unknown_source")


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_only_post_is_allowed(client, integration, method):
    response = getattr(client, method)("/webhooks/shop-a/prestashop/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


def test_no_csrf_token_is_needed(integration, secret):
    client = Client(enforce_csrf_checks=True)
    body = thin_event()
    assert post(client, body, signed_headers(body, secret)).status_code == 202


BOD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<SyncShipment xmlns="http://schema.infor.com/InforOAGIS/2"><ApplicationArea>'
    "<BODID>bod-1</BODID></ApplicationArea><DataArea><Sync><ActionCriteria>"
    '<ActionExpression actionCode="Replace"/></ActionCriteria></Sync><Shipment>'
    "<ShipmentHeader><DocumentID><ID>DLX-9</ID></DocumentID></ShipmentHeader>"
    "<ShipmentItem><SalesOrderReference><DocumentID><ID>0000123456</ID></DocumentID>"
    "</SalesOrderReference></ShipmentItem></Shipment></DataArea></SyncShipment>"
)

XML_BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    "]><SyncShipment>&lol4;</SyncShipment>"
)

EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<SyncShipment>&xxe;</SyncShipment>"
)


def test_an_ion_bod_is_accepted_as_xml(client, integration, secret):
    response = post(
        client, BOD, signed_headers(BOD, secret), source="infor", content_type="application/xml"
    )
    assert response.status_code == 202
    assert WebhookEvent.objects.get().event_type == "SyncShipment"


@pytest.mark.parametrize("xml", [XML_BOMB, EXTERNAL_ENTITY])
def test_an_xml_bomb_or_external_entity_is_refused(client, integration, secret, xml):
    response = post(
        client, xml, signed_headers(xml, secret), source="infor", content_type="text/xml"
    )
    assert_refused(response, 400, "forbidden_xml")


def test_malformed_xml_is_refused(client, integration, secret):
    xml = "<SyncShipment><DataArea>"
    response = post(
        client, xml, signed_headers(xml, secret), source="infor", content_type="text/xml"
    )
    assert_refused(response, 400, "malformed_body")


def test_a_bod_without_a_noun_is_refused(client, integration, secret):
    xml = "<SyncShipment><DataArea><Sync/></DataArea></SyncShipment>"
    response = post(
        client, xml, signed_headers(xml, secret), source="infor", content_type="text/xml"
    )
    assert_refused(response, 400, "malformed_body")


def test_xml_is_refused_from_the_shop(client, integration, secret):
    response = post(client, BOD, signed_headers(BOD, secret), content_type="application/xml")
    assert_refused(response, 415, "unsupported_media_type")


def test_secrets_changed_behind_the_orm_apply_once_the_short_cache_expires(
    client, integration, secret, monkeypatch
):
    from integrations.models import Integration
    from integrations.webhooks import targets

    new = secret_generate()
    body = thin_event()
    assert post(client, body, signed_headers(body, secret)).status_code == 202
    # Another process rotated the secret: no signal reaches this process.
    Integration.objects.filter(pk=integration.pk).update(webhook_secrets={"prestashop": [new]})
    body = thin_event(id=2)
    assert post(client, body, signed_headers(body, new)).status_code == 401  # still cached
    monkeypatch.setattr(targets, "CACHE_SECONDS", 0)
    targets.forget()
    body = thin_event(id=3)
    assert post(client, body, signed_headers(body, new)).status_code == 202
