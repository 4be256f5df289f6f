"""Hypothesis fuzzes POST /webhooks/<integration>/<source>/: random bodies, headers, encodings
and signatures never get a 500; every answer is JSON {"error", "reason"} or an acknowledgement;
and every validly signed event is stored exactly once however often it is sent (no lost
event, no duplicate)."""

import contextlib
import gzip
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from integrations.models import WebhookEvent
from integrations.subscriptions.signing import secret_generate
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

SECRET = secret_generate()
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def integration(db):
    return IntegrationFactory(
        slug="fuzz",
        webhook_secrets={"prestashop": [SECRET], "infor": [SECRET], "tims": [SECRET]},
    )


def sign(msg_id: str, text: str, *, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(msg_id, at, text),
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=15,
)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@st.composite
def requests_(draw):
    """One request as a sender (or an attacker) might send it."""
    source = draw(st.sampled_from(["prestashop", "infor", "tims", "magento", "PRESTASHOP"]))
    content_type = draw(
        st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/xml",
                "text/xml",
                "text/plain",
                "multipart/form-data; boundary=x",
                "",
            ]
        )
    )
    kind = draw(st.sampled_from(["json", "event", "deep", "xml", "binary", "text", "empty"]))
    if kind == "json":
        text = json.dumps(draw(json_values))
    elif kind == "event":
        text = json.dumps(
            {"type": draw(st.text(max_size=120)), "data": draw(json_values), "x": draw(json_values)}
        )
    elif kind == "deep":
        depth = draw(st.integers(min_value=1, max_value=100_000))
        text = '{"type":"order.created","data":' + "[" * depth + "]" * depth + "}"
    elif kind == "xml":
        text = draw(
            st.sampled_from(
                [
                    "<SyncShipment><DataArea><Sync/><Shipment/></DataArea></SyncShipment>",
                    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
                    "<a>" * 5000 + "</a>" * 5000,
                    "<unclosed>",
                ]
            )
        )
    elif kind == "binary":
        text = None
    elif kind == "text":
        text = draw(st.text(max_size=200))
    else:
        text = ""
    body = draw(st.binary(max_size=300)) if text is None else text.encode("utf-8", "surrogatepass")
    msg_id = draw(st.one_of(st.none(), header_text, st.just(f"msg_{uuid.uuid4().hex}")))
    signature = draw(st.sampled_from(["valid", "random", "none", "stale", "v1-garbage"]))
    headers: dict[str, str] = {}
    if msg_id is not None:
        headers["webhook-id"] = msg_id
    if signature == "valid" and msg_id is not None and text is not None:
        with contextlib.suppress(UnicodeError, ValueError):
            headers.update(sign(msg_id, text))
    elif signature == "stale" and msg_id is not None and text is not None:
        headers.update(sign(msg_id, text, at=datetime.now(UTC) - timedelta(hours=1)))
    elif signature == "random":
        headers["webhook-timestamp"] = draw(header_text)
        headers["webhook-signature"] = draw(header_text)
    elif signature == "v1-garbage":
        headers["webhook-timestamp"] = str(int(datetime.now(UTC).timestamp()))
        headers["webhook-signature"] = "v1," + draw(header_text)
    encoding = draw(st.sampled_from(["", "identity", "gzip", "deflate", "br", "gzip-lie"]))
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    elif encoding == "gzip-lie":  # says gzip, is not
        encoding = "gzip"
    if encoding:
        headers["Content-Encoding"] = encoding
    return source, content_type, body, headers


def post(client: Client, source: str, body: bytes, content_type: str, headers: dict[str, str]):
    return client.post(
        f"/webhooks/fuzz/{source}/", data=body, content_type=content_type, headers=headers
    )


def test_random_requests_never_500_and_every_acknowledged_event_is_stored(integration):
    client = Client()

    @FUZZ
    @given(request=requests_())
    def check(request):
        source, content_type, body, headers = request
        response = post(client, source, body, content_type, headers)
        assert response.status_code < 500, response.content
        payload = response.json()
        if response.status_code >= 400:
            assert set(payload) == {"error", "reason"} and payload["reason"], payload
        else:
            assert response.status_code in (200, 202), response.status_code
            assert (
                WebhookEvent.objects.filter(
                    integration=integration, event_id=payload["webhook_id"]
                ).count()
                == 1
            )

    check()


@st.composite
def valid_events(draw):
    """A well-formed event, JSON for any source or an ION BOD in XML for infor."""
    source = draw(st.sampled_from(["prestashop", "infor", "tims"]))
    if source == "infor" and draw(st.booleans()):
        noun = draw(st.sampled_from(["Shipment", "Invoice", "SalesOrder"]))
        value = draw(st.text(alphabet="ABCDEFGHIJ0123456789-", min_size=1, max_size=12))
        text = (
            f'<Sync{noun} xmlns="http://schema.infor.com/InforOAGIS/2"><ApplicationArea>'
            f"<BODID>{value}</BODID></ApplicationArea><DataArea><Sync/><{noun}>"
            f"<{noun}Header><DocumentID><ID>{value}</ID></DocumentID></{noun}Header>"
            f"</{noun}></DataArea></Sync{noun}>"
        )
        content_type = "application/xml"
    else:
        event_type = draw(
            st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1).map(
                lambda t: t[:100]
            )
        )
        data = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
        text = json.dumps({"type": event_type, "timestamp": "2026-11-24T09:00:00Z", "data": data})
        content_type = "application/json"
    sends = draw(st.integers(min_value=1, max_value=3))
    return source, content_type, text, sends


def test_every_validly_signed_event_is_stored_exactly_once(integration):
    client = Client()

    @FUZZ
    @given(event=valid_events())
    def check(event):
        source, content_type, text, sends = event
        msg_id = f"msg_{uuid.uuid4().hex}"
        statuses = []
        for _ in range(sends):
            # Each delivery is signed afresh, as a sender's retry is.
            response = post(client, source, text.encode(), content_type, sign(msg_id, text))
            statuses.append(response.status_code)
        assert statuses == [202] + [200] * (sends - 1), statuses
        stored = WebhookEvent.objects.filter(
            integration=integration, source=source, event_id=msg_id
        )
        assert stored.count() == 1
        assert stored.get().body == text

    check()


def test_deeply_nested_json_is_a_400_with_a_reason(integration):
    text = '{"type": "order.created", "data": {"a": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    response = post(Client(), "prestashop", text.encode(), "application/json", sign("deep", text))
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["reason"]
    assert not WebhookEvent.objects.filter(event_id="deep").exists()


def test_api_json_bodies_have_a_depth_and_a_size_cap(django_user_model, settings):
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_superuser("api", password="x")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    client = Client()
    deep = '{"name": "x", "options": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = client.post(
        "/api/v1/connections/", data=deep, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["message"]
    settings.API_MAX_BODY_BYTES = 1000
    big = json.dumps({"name": "x" * 2000})
    response = client.post(
        "/api/v1/connections/", data=big, content_type="application/json", headers=headers
    )
    assert response.status_code == 413
