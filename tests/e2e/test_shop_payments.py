"""The shop's own payment recorded in the ERP, once, so finance sees paid and unpaid in one
place: M3 through an ARS040MI payment batch against the order's invoice, TIMS as a
prepayment on the sales order."""

import pytest

from integrations.flows.status_back import status_back_scan
from integrations.management.commands.demo import drain
from integrations.models import Link, Status, SyncRecord
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db


def shop_payment(shop, record):
    reference = shop.record("orders", int(record.source_id))["reference"]
    [payment] = [
        r for r in shop.state.tables["order_payments"].values() if r["order_reference"] == reference
    ]
    return payment


def test_a_shop_payment_is_posted_to_m3_once_the_order_is_invoiced(shop, m3, m3_integration):
    connection = m3_integration.erp_connection
    connection.options = {**connection.options, "payment_batch_type": "1"}
    connection.save()
    record = place_and_sync(shop, m3_integration)  # paid at checkout (state 2)
    paid_in_shop = shop_payment(shop, record)

    m3.state.advance(35)  # delivered, not invoiced yet: nothing to post against
    status_back_scan(m3_integration)
    drain(concurrency=1)
    assert m3.state.payment_batches == {}
    shipped = SyncRecord.objects.get(flow="status_back")
    assert "not invoiced yet" in shipped.context["shop_payments_note"]

    m3.state.advance(10)  # invoiced
    status_back_scan(m3_integration)
    drain(concurrency=1)

    [batch] = m3.state.payment_batches.values()
    link = Link.objects.get(integration=m3_integration, entity="order")
    assert link.data["shop_payments_posted"] == {str(paid_in_shop["id"]): f"ARS040MI {batch.pbid}"}
    # Later transitions and retries post nothing more.
    m3.state.advance(10)
    status_back_scan(m3_integration)
    SyncRecord.objects.filter(flow="status_back").update(status=Status.PENDING)
    drain(concurrency=1)
    assert len(m3.state.payment_batches) == 1
    assert not SyncRecord.objects.exclude(status=Status.SUCCEEDED).exists()


def test_without_a_payment_batch_type_m3_payments_wait_visibly(shop, m3, m3_integration):
    place_and_sync(shop, m3_integration)
    m3.state.advance(45)
    status_back_scan(m3_integration)
    drain(concurrency=1)

    back = SyncRecord.objects.get(flow="status_back")
    assert back.status == Status.SUCCEEDED
    assert "payment_batch_type" in back.context["shop_payments_note"]
    assert m3.state.payment_batches == {}


def test_a_shop_payment_is_recorded_in_tims_as_a_prepayment_once(shop, tims, tims_integration):
    record = place_and_sync(shop, tims_integration)  # paid at checkout
    paid_in_shop = shop_payment(shop, record)

    tims.advance(60)  # released
    status_back_scan(tims_integration)
    drain(concurrency=1)
    tims.advance(60 * 4)  # to paid
    status_back_scan(tims_integration)
    SyncRecord.objects.filter(flow="status_back").update(status=Status.PENDING)
    drain(concurrency=1)

    # Referenced by its transaction id, or by its shop id when the module recorded none.
    reference = paid_in_shop["transaction_id"] or f"shop-payment-{paid_in_shop['id']}"
    posted = [p for p in tims.state.payments.values() if p["reference"] == reference]
    assert len(posted) == 1
    assert posted[0]["customer_po"] == record.reference.upper()
    # and the shop is not paid a second time from TIMS's copy of its own payment
    reference = shop.record("orders", int(record.source_id))["reference"]
    assert (
        len(
            [
                r
                for r in shop.state.tables["order_payments"].values()
                if r["order_reference"] == reference
            ]
        )
        == 1
    )
