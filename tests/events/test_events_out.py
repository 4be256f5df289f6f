"""Events out: subscriptions, signed deliveries, retries with backoff, every attempt recorded,
and record.needs_attention from the pipeline's outcome."""

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.contrib.auth.models import User
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from integrations.models import EventDelivery, EventDeliveryAttempt, EventSubscription
from integrations.pipeline import process_records
from integrations.services.records import sync_record_enqueue
from integrations.subscriptions import services
from integrations.subscriptions.services import (
    UnknownEventType,
    event_deliveries_send,
    event_deliveries_sweep,
    event_publish,
)
from integrations.subscriptions.signing import secret_generate
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db
URL = "https://erp-listener.example.com/hooks"


@pytest.fixture
def shop(db):
    return IntegrationFactory(enabled_flows=["test_scripted"])


@pytest.fixture
def subscription(shop):
    return EventSubscription.objects.create(
        name="listener",
        integration=shop,
        url=URL,
        secret={"secret": secret_generate()},
        event_types=["order.shipped", "record.needs_attention"],
    )


def deliver_once() -> None:
    EventDelivery.objects.filter(state__in=["pending", "retrying"]).update(next_attempt_at=None)
    event_deliveries_send(limit=100)


def test_publish_creates_one_delivery_per_matching_active_subscription(shop, subscription):
    other = IntegrationFactory()
    EventSubscription.objects.create(
        name="all", url=URL, secret={"secret": secret_generate()}, event_types=["order.shipped"]
    )
    EventSubscription.objects.create(
        name="off",
        url=URL,
        secret={"secret": secret_generate()},
        event_types=["order.shipped"],
        is_active=False,
    )
    EventSubscription.objects.create(
        name="other shop",
        integration=other,
        url=URL,
        secret={"secret": secret_generate()},
        event_types=["order.shipped"],
    )
    deliveries = event_publish(
        integration=shop, event_type="order.shipped", payload={"order_id": 5, "tracking": "1Z"}
    )
    assert sorted(d.subscription.name for d in deliveries) == ["all", "listener"]
    assert len({d.message_id for d in deliveries}) == 1
    assert event_publish(integration=shop, event_type="order.paid", payload={}) == []


def test_an_unknown_event_type_is_a_programming_error(shop):
    with pytest.raises(UnknownEventType, match=r"order\.synced"):
        event_publish(integration=shop, event_type="order.lost", payload={})


@responses.activate
def test_a_delivery_is_signed_per_standard_webhooks_and_its_attempt_recorded(shop, subscription):
    responses.post(URL, status=204)
    event_publish(integration=shop, event_type="order.shipped", payload={"order_id": 5})
    result = event_deliveries_send()
    assert result.delivered == 1
    sent = responses.calls[0].request
    payload = Webhook(subscription.secret["secret"]).verify(sent.body, dict(sent.headers))
    assert payload["type"] == "order.shipped"
    assert payload["data"] == {"order_id": 5}
    delivery = EventDelivery.objects.get()
    assert sent.headers["webhook-id"] == delivery.message_id
    assert (delivery.state, delivery.attempts, delivery.last_response_code) == ("delivered", 1, 204)
    attempt = EventDeliveryAttempt.objects.get()
    assert attempt.response_code == 204 and attempt.duration_ms is not None
    assert attempt.request_headers["webhook-signature"] == "***"
    assert json.loads(attempt.request_body)["data"] == {"order_id": 5}


@responses.activate
def test_a_failing_subscriber_is_retried_with_backoff_then_delivered(shop, subscription):
    responses.post(URL, status=503, body="down for maintenance")
    responses.post(URL, body=requests.ConnectionError("connection refused"))
    responses.post(URL, status=200)
    event_publish(integration=shop, event_type="order.shipped", payload={"n": 1})
    event_deliveries_send()
    delivery = EventDelivery.objects.get()
    assert delivery.state == "retrying"
    assert delivery.next_attempt_at > timezone.now()
    assert event_deliveries_send().claimed == 0  # not due yet
    deliver_once()
    assert EventDelivery.objects.get().last_error.startswith("ConnectionError")
    deliver_once()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 3)
    codes = list(
        EventDeliveryAttempt.objects.order_by("number").values_list("response_code", "error")
    )
    assert codes[0] == (503, "the subscriber answered HTTP 503")
    assert codes[1][0] is None and "ConnectionError" in codes[1][1]
    assert codes[2] == (200, "")
    # The same webhook-id on every try, so the subscriber can de-duplicate.
    assert len({c.request.headers["webhook-id"] for c in responses.calls}) == 1


@responses.activate
def test_a_refusal_is_not_retried(shop, subscription):
    responses.post(URL, status=410)
    event_publish(integration=shop, event_type="order.shipped", payload={})
    event_deliveries_send()
    assert EventDelivery.objects.get().state == "failed"


@responses.activate
def test_retries_end_dead(shop, subscription, monkeypatch):
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 3)
    responses.post(URL, status=500)
    event_publish(integration=shop, event_type="order.shipped", payload={})
    for _ in range(4):
        deliver_once()
    delivery = EventDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("dead", 3)


@responses.activate
def test_the_sweep_reclaims_abandoned_deliveries(shop, subscription):
    responses.post(URL, status=200)
    event_publish(integration=shop, event_type="order.shipped", payload={})
    EventDelivery.objects.update(
        state="sending", claim_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert event_deliveries_sweep()["reclaimed"] == 1
    assert event_deliveries_send().delivered == 1


def test_a_publish_failure_never_breaks_the_caller(shop, subscription, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(EventDelivery.objects, "bulk_create", broken)
    assert event_publish(integration=shop, event_type="order.shipped", payload={}) == []


@pytest.mark.django_db(transaction=True)
def test_a_record_that_needs_attention_is_published(subscription, shop):
    record = sync_record_enqueue(
        integration=shop,
        flow="test_scripted",
        source_system="prestashop",
        source_id="9",
        payload={"fail": "permanent", "sku": "AB-9"},
        enqueue=False,
    ).record
    ok = sync_record_enqueue(
        integration=shop,
        flow="test_scripted",
        source_system="prestashop",
        source_id="10",
        payload={},
        enqueue=False,
    ).record
    outcome = process_records(ids=[record.pk, ok.pk], concurrency=1)
    assert sorted(o.status for o in outcome.outcomes) == ["needs_attention", "succeeded"]
    delivery = EventDelivery.objects.get()
    assert delivery.event_type == "record.needs_attention"
    assert delivery.payload["record_id"] == record.pk
    assert delivery.payload["error_field"] == "lines.2.sku"
    assert "AB-9" in delivery.payload["error_message"]


def test_the_admin_lists_deliveries_with_their_attempts(client, shop, subscription):
    admin = User.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin)
    event_publish(integration=shop, event_type="order.shipped", payload={"order_id": 1})
    delivery = EventDelivery.objects.get()
    EventDeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        duration_ms=12,
        url=URL,
        response_code=502,
    )
    listing = client.get("/admin/integrations/eventdelivery/")
    assert listing.status_code == 200 and b"order.shipped" in listing.content
    page = client.get(f"/admin/integrations/eventdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and b"502" in page.content


def test_the_admin_never_shows_a_subscription_secret(client, shop, subscription):
    admin = User.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin)
    page = client.get(f"/admin/integrations/eventsubscription/{subscription.pk}/change/")
    assert page.status_code == 200
    assert subscription.secret["secret"].encode() not in page.content
    response = client.post(
        "/admin/integrations/eventsubscription/add/",
        {"name": "new", "url": URL, "event_types": ["order.paid"], "is_active": "on"},
    )
    assert response.status_code == 302, response.content[:2000]
    created = EventSubscription.objects.get(name="new")
    assert created.secret["secret"].startswith("whsec_")
