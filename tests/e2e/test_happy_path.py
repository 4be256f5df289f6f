"""The happy path over real HTTP, for each ERP: one shop order in, one ERP order, a link;
then the ERP's progress (state, tracking, invoice, payment) back in the shop."""

from decimal import Decimal

import pytest

from integrations.flows.status_back import status_back_scan
from integrations.management.commands.demo import drain
from integrations.models import Link, Status, SyncRecord
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db


def shop_rows(shop, resource, **match):
    return [
        r
        for r in shop.state.tables[resource].values()
        if all(r.get(k) == v for k, v in match.items())
    ]


def test_m3_order_in_then_status_tracking_invoice_and_payment_back(shop, m3, m3_integration):
    # Awaiting bank wire: not paid in the shop yet, so the ERP's payment is recorded there.
    record = place_and_sync(shop, m3_integration, state_id=10)

    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = m3.state.orders.values()
    assert order.head["CUOR"] == record.reference.upper()
    link = Link.objects.get(integration=m3_integration, entity="order")
    assert (link.shop_id, link.erp_id) == (record.source_id, order.orno)
    assert record.target_id == order.orno
    assert Link.objects.filter(integration=m3_integration, entity="customer").count() == 1
    assert record.context["inventory"]["decision"] in ("ok", "backorder")
    # prices and quantities went as decimals
    shop_order = shop.record("orders", int(record.source_id))
    first_row = shop_order["associations"]["order_rows"][0]
    assert order.lines[0]["ORQT"] == Decimal(first_row["product_quantity"])
    assert order.lines[0]["SAPR"] == Decimal(first_row["unit_price_tax_excl"])

    m3.state.advance(60)  # released -> delivered -> invoiced -> paid
    assert status_back_scan(m3_integration)["created"] == 1
    drain(concurrency=1)

    back = SyncRecord.objects.get(integration=m3_integration, flow="status_back")
    assert back.status == Status.SUCCEEDED, back.error_message
    assert back.idempotency_key == f"infor_m3:status:{order.orno}:paid"
    shop_order = shop.record("orders", int(record.source_id))
    assert shop_order["current_state"] == 4  # shipped
    histories = shop_rows(shop, "order_histories", id_order=int(record.source_id))
    assert [h["id_order_state"] for h in histories] == [10, 4]
    [carrier] = shop_rows(shop, "order_carriers", id_order=int(record.source_id))
    assert carrier["tracking_number"] == order.tracking
    [payment] = shop_rows(shop, "order_payments", order_reference=shop_order["reference"])
    invoice = next(iter(m3.state.invoices.values()))
    assert Decimal(payment["amount"]) == Decimal(invoice["AMT1"])
    assert payment["transaction_id"].startswith("infor_m3:")
    link.refresh_from_db()
    assert link.data["erp_state"] == "paid"
    assert link.data["invoices"][0]["number"] == invoice["EXIN"]
    assert Decimal(link.data["invoices"][0]["total"]) == Decimal(invoice["AMT1"])

    # Nothing new: a second scan finds no transition; a retry of the record writes nothing.
    assert status_back_scan(m3_integration)["created"] == 0
    SyncRecord.objects.filter(pk=back.pk).update(status=Status.PENDING)
    drain(concurrency=1)
    assert len(shop_rows(shop, "order_histories", id_order=int(record.source_id))) == 2
    assert len(shop_rows(shop, "order_payments", order_reference=shop_order["reference"])) == 1


def test_m3_each_transition_is_one_record_and_one_history_row(shop, m3, m3_integration):
    record = place_and_sync(shop, m3_integration)
    order_id = int(record.source_id)
    for seconds, state in ((0, "processing"), (35, "shipped"), (10, "invoiced"), (10, "paid")):
        m3.state.advance(seconds)
        status_back_scan(m3_integration)
        drain(concurrency=1)
        assert Link.objects.get(entity="order").data["erp_state"] == state
    keys = sorted(
        SyncRecord.objects.filter(flow="status_back").values_list("idempotency_key", flat=True)
    )
    assert [k.rsplit(":", 1)[1] for k in keys] == sorted(
        ["processing", "shipped", "invoiced", "paid"]
    )
    states = [h["id_order_state"] for h in shop_rows(shop, "order_histories", id_order=order_id)]
    assert states == [2, 3, 4]
    # Paid in the shop already (payment accepted at checkout): no second payment.
    reference = shop.record("orders", order_id)["reference"]
    assert len(shop_rows(shop, "order_payments", order_reference=reference)) == 1


def test_tims_order_in_then_status_tracking_invoice_and_payment_back(shop, tims, tims_integration):
    record = place_and_sync(shop, tims_integration, state_id=10)

    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = tims.state.orders.values()
    assert order["customer_po"] == record.reference.upper()
    assert Link.objects.get(entity="order").erp_id == order["order_number"]

    tims.advance(60 * 5)  # open -> released -> shipped -> invoiced -> closed (paid)
    assert status_back_scan(tims_integration)["created"] == 1
    drain(concurrency=1)

    back = SyncRecord.objects.get(flow="status_back")
    assert back.status == Status.SUCCEEDED, back.error_message
    assert back.idempotency_key == f"tims:order:{order['order_number']}@paid"
    order_id = int(record.source_id)
    assert shop.record("orders", order_id)["current_state"] == 4
    [shipment] = tims.state.shipments.values()
    [carrier] = shop_rows(shop, "order_carriers", id_order=order_id)
    assert carrier["tracking_number"] == shipment["tracking_number"]
    reference = shop.record("orders", order_id)["reference"]
    [payment] = shop_rows(shop, "order_payments", order_reference=reference)
    tims_payment = next(iter(tims.state.payments.values()))
    assert payment["transaction_id"] == tims_payment["reference"]
    assert Decimal(payment["amount"]) == Decimal(tims_payment["amount"])
    link = Link.objects.get(entity="order")
    [invoice] = tims.state.invoices.values()
    assert link.data["invoices"][0]["number"] == invoice["invoice_number"]
    assert Decimal(link.data["invoices"][0]["total_fees"]) == Decimal(invoice["fees_total"])


def test_orders_split_from_one_cart_each_get_their_own_erp_order(shop, m3, m3_integration):
    first = place_and_sync(shop, m3_integration, reference="SPLITCART", customer_id=2)
    second = place_and_sync(shop, m3_integration, reference="SPLITCART", customer_id=2)

    assert {first.status, second.status} == {Status.SUCCEEDED}
    keys = sorted(o.head["CUOR"] for o in m3.state.orders.values())
    assert keys == ["SPLITCART", f"SPLITCART-{second.source_id}"]
    assert Link.objects.filter(entity="order").count() == 2
