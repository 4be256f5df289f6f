"""Stored events become records through sync_record_enqueue, routed by data."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import EventRoute, SyncRecord, WebhookEvent
from integrations.webhooks.processing import webhook_events_process, webhook_events_sweep
from integrations.webhooks.routing import DEFAULT_ROUTES
from tests.events.conftest import post, signed_headers, thin_event
from tests.events.test_endpoint import BOD

pytestmark = pytest.mark.django_db

SALES_ORDER_BOD = "/work/shared/reference/infor/samples/SyncSalesOrder.derived.xml"


def receive(client, secret, body, **kwargs):
    response = post(client, body, signed_headers(body, secret), **kwargs)
    assert response.status_code == 202, response.content


def test_an_order_event_becomes_one_order_to_cash_record_keyed_by_the_shop_order_id(
    client, integration, secret
):
    receive(client, secret, thin_event("order.created", id=42, reference="XKBKNABJK"))
    receive(client, secret, thin_event("order.updated", id=42, date_upd="2026-11-24 11:00:00"))
    receive(client, secret, thin_event("order.status_changed", id=42))
    result = webhook_events_process()
    assert (result.claimed, result.processed, result.records_created) == (3, 3, 1)
    record = SyncRecord.objects.get()
    assert (record.flow, record.source_system, record.source_id) == (
        "order_to_cash",
        "prestashop",
        "42",
    )
    assert record.idempotency_key == "prestashop:42"
    assert record.reference == "XKBKNABJK"
    assert record.payload_in["event"] == "order.created"
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}


@pytest.mark.parametrize(
    ("event_type", "data", "flow", "key"),
    [
        ("customer.created", {"resource": "customers", "id": 5}, "customers", "customer:5"),
        ("customer.updated", {"resource": "customers", "id": 5}, "customers", "customer:5"),
        (
            "address.created",
            {"resource": "addresses", "id": 9, "id_customer": 5},
            "customers",
            "customer:5",
        ),
    ],
)
def test_shop_events_route_to_their_flows(client, integration, secret, event_type, data, flow, key):
    receive(client, secret, thin_event(event_type, **data))
    assert webhook_events_process().processed == 1
    record = SyncRecord.objects.get()
    assert (record.flow, record.idempotency_key) == (flow, key)


def test_a_customer_change_reopens_its_finished_record(client, integration, secret):
    receive(client, secret, thin_event("customer.updated", resource="customers", id=5))
    webhook_events_process()
    SyncRecord.objects.update(status="succeeded", target_id="C0005")
    receive(
        client, secret, thin_event("address.created", resource="addresses", id=9, id_customer=5)
    )

    assert webhook_events_process().records_created == 1
    record = SyncRecord.objects.get()
    assert (record.status, record.target_id) == ("pending", "")


def test_shop_stock_events_are_kept_but_make_no_work(client, integration, secret):
    # Product events do open work (shop-owned fields, tests/masterdata); stock never flows back.
    data = {"resource": "stock_availables", "id_product": 3, "id_product_attribute": 0}
    why = "the ERP's stock feed decides shop stock"
    receive(client, secret, thin_event("stock.updated", **data))
    assert webhook_events_process().ignored == 1
    assert not SyncRecord.objects.exists()
    event = WebhookEvent.objects.get()
    assert event.state == "ignored"
    assert why in event.error


def test_every_default_route_names_a_known_source():
    assert {source for source, _ in DEFAULT_ROUTES} <= {"prestashop", "infor", "tims"}


def test_a_bod_becomes_a_status_back_record_from_the_erp(client, integration, secret):
    with open(SALES_ORDER_BOD) as sample:
        xml = sample.read()
    receive(client, secret, xml, source="infor", content_type="application/xml")
    receive(client, secret, BOD, source="infor", content_type="text/xml")
    assert webhook_events_process().processed == 2
    order, shipment = SyncRecord.objects.order_by("id")
    assert (order.flow, order.direction, order.source_system) == (
        "status_back",
        "erp_to_shop",
        "infor_m3",
    )
    assert order.source_id == "0000123456"
    assert order.reference == "PS-000123"
    assert order.payload_in["status"] == "Open"
    assert order.payload_in["action"] == "Replace"
    # A shipment proves its sales order shipped: keyed as the status scan keys it.
    assert shipment.source_id == "0000123456"
    # (the key integrations.flows.status_back.status_key gives that transition)
    assert shipment.idempotency_key == "infor_m3:status:0000123456:shipped"
    assert shipment.payload_in["document_id"] == "DLX-9"


def test_a_shipment_bod_without_its_sales_order_fails_and_says_what_is_missing(
    client, integration, secret
):
    xml = BOD.replace("SalesOrderReference", "PurchaseOrderReference")
    receive(client, secret, xml, source="infor", content_type="text/xml")
    assert webhook_events_process().failed == 1
    assert "'order_id'" in WebhookEvent.objects.get().error


def test_ion_resending_one_bod_is_one_record(client, integration, secret):
    receive(client, secret, BOD, source="infor", content_type="text/xml")
    receive(client, secret, BOD, source="infor", content_type="text/xml")  # a new webhook-id
    result = webhook_events_process()
    assert (result.processed, result.records_created) == (2, 1)


def test_a_per_integration_override_changes_the_flow(client, integration, secret):
    EventRoute.objects.create(
        integration=integration, source="prestashop", event_type="order.created", flow="test_noop"
    )
    EventRoute.objects.create(
        integration=integration, source="prestashop", event_type="cart.abandoned", flow="test_noop"
    )
    receive(client, secret, thin_event("order.created", id=1))
    receive(client, secret, thin_event("cart.abandoned", id=2))
    assert webhook_events_process().processed == 2
    assert list(SyncRecord.objects.order_by("id").values_list("flow", "idempotency_key")) == [
        ("test_noop", "prestashop:1"),
        ("test_noop", "prestashop:cart.abandoned:2"),
    ]


def test_an_override_with_no_flow_ignores_the_event_type(client, integration, secret):
    EventRoute.objects.create(
        integration=integration, source="prestashop", event_type="product.updated", flow=""
    )
    receive(client, secret, thin_event("product.updated", id=1))
    assert webhook_events_process().ignored == 1
    assert not SyncRecord.objects.exists()
    assert "ignored" in WebhookEvent.objects.get().error


def test_an_unrouted_event_is_ignored_with_a_reason(client, integration, secret):
    receive(client, secret, thin_event("cart.abandoned"))
    assert webhook_events_process().ignored == 1
    event = WebhookEvent.objects.get()
    assert event.state == "ignored"
    assert "no route" in event.error and "cart.abandoned" in event.error


def test_an_event_for_a_disabled_flow_is_ignored(client, integration, secret):
    integration.enabled_flows = ["customers"]
    integration.save()
    receive(client, secret, thin_event("order.created"))
    assert webhook_events_process().ignored == 1
    assert "not enabled" in WebhookEvent.objects.get().error


def test_an_event_missing_a_key_field_fails_alone_and_names_the_field(client, integration, secret):
    receive(client, secret, thin_event("customer.updated", id=None))
    receive(client, secret, thin_event("order.created", id=77))
    result = webhook_events_process()
    assert (result.failed, result.processed) == (1, 1)
    failed = WebhookEvent.objects.get(state="failed")
    assert "'id'" in failed.error and "customer.updated" in failed.error
    assert SyncRecord.objects.get().source_id == "77"


def test_processing_twice_creates_nothing_twice(client, integration, secret):
    receive(client, secret, thin_event("order.created", id=5))
    assert webhook_events_process().records_created == 1
    again = webhook_events_process()
    assert again.claimed == 0
    # Even an event forced back to received (a redelivered task) yields the same record.
    WebhookEvent.objects.update(state="received")
    assert webhook_events_process().records_created == 0
    assert SyncRecord.objects.count() == 1


def test_the_sweep_processes_events_whose_task_was_lost(client, integration, secret):
    for i in range(3):
        receive(client, secret, thin_event("order.created", id=i))
    assert webhook_events_sweep().claimed == 0  # too young: their task is on its way
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    result = webhook_events_sweep()
    assert (result.claimed, result.records_created) == (3, 3)


def test_processing_only_takes_the_given_ids(client, integration, secret):
    for i in range(4):
        receive(client, secret, thin_event("order.created", id=i))
    first_two = list(WebhookEvent.objects.order_by("id").values_list("id", flat=True)[:2])
    assert webhook_events_process(ids=first_two).claimed == 2
    assert WebhookEvent.objects.filter(state="received").count() == 2


def test_one_process_queues_at_most_one_task_per_interval_plus_a_trailing_one(monkeypatch):
    from integrations.webhooks import processing

    queued: list[list[int]] = []
    monkeypatch.setattr(processing, "_enqueue_quietly", queued.append)
    monkeypatch.setattr(processing, "ENQUEUE_INTERVAL", 0.2)
    coalescer = processing._Coalescer()
    for event_id in range(1, 6):
        coalescer.request(event_id)
    assert queued == [[1]]  # the first at once, the burst's others coalesce
    timer = coalescer._timer
    assert timer is not None
    timer.join(2)
    assert queued == [[1], [2]]  # one trailing task picks up what came after
    assert coalescer._timer is None


def test_a_broker_outage_does_not_fail_the_webhook(
    client, integration, secret, monkeypatch, django_capture_on_commit_callbacks
):
    from integrations.webhooks import processing

    calls = []

    def down(ids):
        calls.append(ids)
        raise ConnectionError("redis is down")

    monkeypatch.setattr(processing, "enqueue_events", down)
    monkeypatch.setattr(processing, "_coalescer", processing._Coalescer())
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, thin_event(), signed_headers(thin_event(), secret))
    assert response.status_code == 202
    assert calls  # it was tried; the event waits for the sweep
    assert WebhookEvent.objects.get().state == "received"


def test_an_order_skipped_for_its_state_runs_again_on_its_next_event(client, integration, secret):
    receive(client, secret, thin_event("order.created", reference="XKBKNABJK"))
    webhook_events_process()
    SyncRecord.objects.update(status="skipped", error_message="order state 8 (payment error)")

    receive(client, secret, thin_event("order.status_changed", reference="XKBKNABJK"))
    assert webhook_events_process().records_created == 1

    record = SyncRecord.objects.get()
    assert record.status == "pending"
    assert record.payload_in["event"] == "order.status_changed"


def test_an_order_already_in_the_erp_is_never_reopened_by_a_later_event(
    client, integration, secret
):
    receive(client, secret, thin_event("order.created", reference="XKBKNABJK"))
    webhook_events_process()
    SyncRecord.objects.update(status="succeeded", target_id="1000042")

    receive(client, secret, thin_event("order.status_changed", reference="XKBKNABJK"))
    assert webhook_events_process().records_created == 0

    record = SyncRecord.objects.get()
    assert (record.status, record.target_id) == ("succeeded", "1000042")
