"""Each documented failure ends in its documented state with a message a person can act on,
and fix + retry completes it, with exactly one ERP order."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.management.commands.demo import drain
from integrations.models import Integration, Link, Status, SyncRecord
from integrations.pipeline import process_records
from integrations.services.customers import (
    customer_conflict_create_new,
    customer_conflict_link_existing,
    customer_conflict_update_erp,
)
from integrations.services.orders import order_backorder_approve, order_sync_enqueue
from integrations.services.records import sync_record_retry
from mappings.models import FieldMapping, MappingSet, ValueMap, ValueMapEntry
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db


def enqueue(shop, integration, **order):
    placed = shop.place_order(**{"state_id": 2, "stock": False, **order})
    return order_sync_enqueue(
        integration=integration, order_id=str(placed["id"]), reference=placed["reference"]
    ).record


def retry(record):
    sync_record_retry(record=record)
    drain(concurrency=1)
    record.refresh_from_db()
    return record


def touch_mappings(integration: Integration) -> None:
    for mapping_set in MappingSet.objects.filter(integration=integration):
        mapping_set.save()


def test_unknown_sku_names_the_sku_product_and_line_then_a_fix_completes(shop, m3, m3_integration):
    ValueMapEntry.objects.filter(source_value="SIM-0003").delete()

    record = place_and_sync(shop, m3_integration, lines=[(2, 0, 1), (3, 0, 2)])

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "lines.2.sku"
    assert record.error_value == "SIM-0003"
    assert "line 2 sku 'SIM-0003' (" in record.error_message
    assert shop.record("products", 3)["name"][1] in record.error_message
    assert record.context["unknown_item"]["line"] == 2
    assert not m3.state.orders

    Link.objects.create(integration=m3_integration, entity="product", shop_id="3", erp_id="PS-1003")
    record = retry(record)
    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = m3.state.orders.values()
    assert [line["ITNO"] for line in order.lines] == ["PS-1002", "PS-1003"]


def test_erp_rate_limit_at_peak_retries_later_then_completes(shop, m3, m3_integration):
    m3.fail_next(429, retry_after="30", match="AddBatchHead")
    record = enqueue(shop, m3_integration)

    process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.RETRYING
    assert record.error_class == "RateLimitedError"
    assert "429" in record.error_message
    assert record.next_attempt_at >= timezone.now() + timedelta(seconds=25)
    assert not m3.state.orders

    drain(concurrency=1)  # time moves on: the retry is due
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert len(m3.state.orders) == 1


@pytest.mark.django_db(transaction=True)
def test_sustained_quota_at_peak_many_orders_all_complete_once(shop, m3, m3_integration):
    m3.set_quota(10, per_seconds=1.0)
    records = [enqueue(shop, m3_integration) for _ in range(4)]

    drain(concurrency=4)

    statuses = set(SyncRecord.objects.filter(flow="order_to_cash").values_list("status", flat=True))
    assert statuses == {Status.SUCCEEDED}
    assert len(m3.state.orders) == len(records)
    assert len({o.head["CUOR"] for o in m3.state.orders.values()}) == len(records)
    assert any(r["status"] == 429 for r in m3.requests), "the quota was never hit"


def test_network_failure_after_the_erp_created_the_order_links_it_instead_of_a_second(
    shop, m3, m3_integration
):
    # M3 releases the order, then the connection drops before the answer arrives.
    m3.fail_next(kind="drop", match="Confirm", after_processing=True)
    record = enqueue(shop, m3_integration)

    process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.RETRYING
    assert len(m3.state.orders) == 1

    drain(concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert len(m3.state.orders) == 1
    [order] = m3.state.orders.values()
    assert record.target_id == order.orno
    assert record.context["erp_order"]["created"] is False


def test_shop_network_failure_is_retried(shop, m3, m3_integration):
    shop.faults.fail_next("drop", count=4, method="GET", resource="orders")
    record = enqueue(shop, m3_integration)

    process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.RETRYING
    assert record.error_class == "TransientError"

    drain(concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert len(m3.state.orders) == 1


def _conflicting_customer(m3, email: str) -> None:
    m3.state.customers["WEB9001"] = {
        "CUNO": "WEB9001",
        "CUNM": "Somebody Else",
        "CUA1": "1 Other street",
        "PONO": "99999",
        "TOWN": "Elsewhere",
        "CSCD": "FR",
        "MAIL": email,
        "STAT": "20",
        "CUCD": "EUR",
    }


@pytest.mark.parametrize("action", ["link", "update", "create"])
def test_customer_email_conflict_shows_a_diff_and_three_ways_out(shop, m3, m3_integration, action):
    email = shop.record("customers", 1)["email"]
    _conflicting_customer(m3, email)

    record = place_and_sync(shop, m3_integration, customer_id=1)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "customer.name"
    assert "WEB9001" in record.error_message and "Resolution" in record.error_message
    conflict = record.context["customer_conflict"]
    assert conflict["erp_customer"]["number"] == "WEB9001"
    assert {"field": "name", "shop": conflict["shop_customer"]["name"], "erp": "Somebody Else"} in (
        conflict["diff"]
    )
    assert not m3.state.orders

    resolve = {
        "link": customer_conflict_link_existing,
        "update": customer_conflict_update_erp,
        "create": customer_conflict_create_new,
    }[action]
    resolve(record=record)
    drain(concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.SUCCEEDED, record.error_message
    assert "customer_conflict" not in record.context
    [order] = m3.state.orders.values()
    if action == "create":
        assert order.head["CUNO"] not in ("WEB9001", "")
        assert m3.state.customers[order.head["CUNO"]]["MAIL"] == email
    else:
        assert order.head["CUNO"] == "WEB9001"
    if action == "update":
        assert m3.state.customers["WEB9001"]["CUNM"] == conflict["shop_customer"]["name"]


def test_order_in_payment_error_is_skipped_with_the_reason_and_runs_once_paid(
    shop, m3, m3_integration
):
    record = place_and_sync(shop, m3_integration, state_id=8)

    assert record.status == Status.SKIPPED
    assert "state 8 (payment_error)" in record.error_message
    assert "skip_states" in record.error_message
    assert not m3.state.orders

    order = shop.record("orders", int(record.source_id))
    shop.state.change_state(order, 2, send_email=False)
    order_sync_enqueue(
        integration=m3_integration, order_id=record.source_id, reference=record.reference
    )
    drain(concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert len(m3.state.orders) == 1


def test_erp_rejects_an_invalid_item_then_a_fixed_link_replaces_the_batch_order(
    shop, m3, m3_integration
):
    # Links are trusted (not checked before sending): M3 itself refuses the item at Confirm.
    Link.objects.create(integration=m3_integration, entity="product", shop_id="2", erp_id="PS-9999")

    record = place_and_sync(shop, m3_integration, lines=[(2, 0, 1)])

    assert record.status == Status.NEEDS_ATTENTION
    assert (record.error_field, record.error_value) == ("ITNO", "PS-9999")
    assert "status 25" in record.error_message
    assert not m3.state.orders

    Link.objects.filter(entity="product", shop_id="2").update(erp_id="PS-1002")
    record = retry(record)
    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = m3.state.orders.values()
    assert order.lines[0]["ITNO"] == "PS-1002"
    assert len(m3.state.batch_orders) == 1  # the refused batch order was replaced


def test_erp_rejects_the_customer_template_field_then_a_mapping_fix_completes(
    shop, m3, m3_integration
):
    FieldMapping.objects.filter(target_field="CUTM").update(default="NOSUCHTMPL")
    touch_mappings(m3_integration)

    record = place_and_sync(shop, m3_integration)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "CUTM"
    assert "NOSUCHTMPL" in record.error_message

    FieldMapping.objects.filter(target_field="CUTM").update(default="WEBTMPL")
    touch_mappings(m3_integration)
    record = retry(record)
    assert record.status == Status.SUCCEEDED, record.error_message


def test_tims_rejects_a_field_value_then_a_value_map_fix_completes(shop, tims, tims_integration):
    ValueMap.objects.filter(name="tims_country_to_location").update(fallback="NORTH")
    touch_mappings(tims_integration)

    record = place_and_sync(shop, tims_integration)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "location_id"
    assert "NORTH" in record.error_message
    assert not tims.state.orders

    ValueMap.objects.filter(name="tims_country_to_location").update(fallback="MAIN")
    touch_mappings(tims_integration)
    record = retry(record)
    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = tims.state.orders.values()
    assert order["location_id"] == "MAIN"


def test_type_mismatch_in_a_mapping_names_the_field_then_a_fix_completes(shop, m3, m3_integration):
    FieldMapping.objects.filter(
        mapping_set__integration=m3_integration, target_field="ORQT"
    ).update(source="name", transforms="")
    touch_mappings(m3_integration)

    record = place_and_sync(shop, m3_integration)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "ORQT"
    assert "is not a number" in record.error_message
    assert not m3.state.orders

    FieldMapping.objects.filter(
        mapping_set__integration=m3_integration, target_field="ORQT"
    ).update(source="quantity", transforms="to_decimal")
    touch_mappings(m3_integration)
    record = retry(record)
    assert record.status == Status.SUCCEEDED, record.error_message


def test_short_stock_held_for_review_is_visible_then_approved(shop, m3, m3_integration):
    m3_integration.options = {
        "order_to_cash": {**m3_integration.options["order_to_cash"], "backorder": "hold"}
    }
    m3_integration.save()
    for key in list(m3.state.balances):
        if key[1] == "PS-1002":
            m3.state.balances[key]["STQT"] = Decimal(0)

    record = place_and_sync(shop, m3_integration, lines=[(2, 0, 3)])

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "lines.1.quantity"
    inventory = record.context["inventory"]
    assert inventory["decision"] == "hold"
    assert inventory["short"][0]["item"] == "PS-1002"
    assert not m3.state.orders

    order_backorder_approve(record=record)
    drain(concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED, record.error_message
    assert record.context["inventory"]["decision"] == "backorder"
    assert len(m3.state.orders) == 1


def test_tims_short_stock_goes_in_as_a_backorder(shop, tims, tims_integration):
    for row in tims.state.stock.values():
        if row["item_code"] == "CYL-CO2-50":
            row["available"] = "0"

    record = place_and_sync(shop, tims_integration, lines=[(2, 0, 1)])

    assert record.status == Status.SUCCEEDED, record.error_message
    assert record.context["inventory"]["decision"] == "backorder"
    [order] = tims.state.orders.values()
    assert order["override_backorder"] is True
