"""Inventory end to end: M3 simulator -> pipeline -> PrestaShop simulator(s)."""

from datetime import datetime

import pytest

from integrations.models import (
    PollCursor,
    PublishedStock,
    Status,
    StockHold,
    StockUnmatched,
    SyncRecord,
)
from integrations.selectors_stock import stock_holds_open, stock_unmatched_list
from integrations.services.records import sync_record_enqueue
from integrations.services.stock import (
    StockActionError,
    stock_hold_discard,
    stock_hold_release,
    stock_reconcile_full,
    stock_records_open,
    stock_scan_incremental,
)
from tests.stock.conftest import (
    m3_stock,
    make_integration,
    run_inventory_records,
    shop_quantity,
    shop_skus,
)

pytestmark = pytest.mark.django_db


def stock_every_item(shop, m3, base: int = 40) -> dict[str, int]:
    """Every shop SKU exists in M3: `base + n` in warehouse 100 and 5 in 200."""
    wanted = {}
    for n, sku in enumerate(sorted(shop_skus(shop))):
        m3_stock(m3, sku, w100=base + n, w200=5)
        wanted[sku] = base + n + 5
    return wanted


def patches(sim) -> int:
    return sum(1 for method, path, _ in sim.requests if method in ("PATCH", "PUT"))


def test_full_reconciliation_publishes_availability_and_writes_only_changes(shop, m3):
    integration = make_integration(shop, m3)
    wanted = stock_every_item(shop, m3)

    run = stock_reconcile_full(integration=integration)
    assert run.report["items"] == len(wanted)
    assert run.report["to_write"] == run.report["records_opened"] > 0
    outcome = run_inventory_records(integration)

    assert outcome["succeeded"] == run.report["to_write"]
    assert {sku: shop_quantity(shop, sku) for sku in wanted} == wanted
    row = PublishedStock.objects.get(integration=integration, sku=sorted(wanted)[0])
    assert row.quantity == wanted[row.sku] and row.target is None and row.published_at
    writes = patches(shop)

    again = stock_reconcile_full(integration=integration)
    assert again.report["to_write"] == 0 and again.report["unchanged"] == len(wanted)
    assert run_inventory_records(integration) == {"claimed": 0}
    assert patches(shop) == writes


def test_drift_in_the_shop_is_fixed_and_reported(shop, m3):
    integration = make_integration(shop, m3)
    wanted = stock_every_item(shop, m3)
    stock_reconcile_full(integration=integration)
    run_inventory_records(integration)
    sku = sorted(wanted)[1]
    product_id, attribute_id = shop_skus(shop)[sku]
    shop.set_stock(product_id, attribute_id, 999)  # someone edits it in the back office

    run = stock_reconcile_full(integration=integration)

    assert run.report["drift_fixed"] == 1 and run.report["to_write"] == 1
    record = SyncRecord.objects.get(integration=integration, idempotency_key=f"stock:{sku}")
    assert record.status == Status.PENDING and record.target_id == ""  # re-opened
    run_inventory_records(integration)
    assert shop_quantity(shop, sku) == wanted[sku]
    assert record.attempt_set.count() == 2


def test_one_erp_feeds_two_shops_each_with_its_buffer_and_warehouses(shop, shop2, m3):
    first = make_integration(shop, m3)
    second = make_integration(shop2, m3, buffer=3, warehouses=["100"])
    assert first.erp_connection_id == second.erp_connection_id
    skus = sorted(set(shop_skus(shop)) | set(shop_skus(shop2)))
    for sku in skus:
        m3_stock(m3, sku, w100=20, w200=7)

    for integration in (first, second):
        stock_reconcile_full(integration=integration)
        run_inventory_records(integration)

    assert {shop_quantity(shop, s) for s in shop_skus(shop)} == {27}
    assert {shop_quantity(shop2, s) for s in shop_skus(shop2)} == {17}


def test_incremental_scan_publishes_items_the_erp_changed(shop, m3):
    integration = make_integration(shop, m3)
    wanted = stock_every_item(shop, m3)
    stock_reconcile_full(integration=integration)
    run_inventory_records(integration)
    # M3's simulated calendar starts in 2024: put the cursor before it.
    PollCursor.objects.create(
        integration=integration, stream="inventory:erp", value="2024-01-01T00:00:00+00:00"
    )
    sku = sorted(wanted)[0]
    m3_stock(m3, sku, w100=2, w200=0)

    run = stock_scan_incremental(integration=integration)

    assert run.report["changed"] >= 1 and run.report["to_write"] == 1
    run_inventory_records(integration)
    assert shop_quantity(shop, sku) == 2


def test_inventory_update_fails_because_the_erp_item_is_not_in_the_shop(shop, m3):
    integration = make_integration(shop, m3)
    m3_stock(m3, "ONLY-IN-M3", w100=12)
    PollCursor.objects.create(
        integration=integration, stream="inventory:erp", value="2024-01-01T00:00:00+00:00"
    )

    run = stock_scan_incremental(integration=integration)
    assert run.report["unmatched_erp_items"] == 1
    run_inventory_records(integration)

    record = SyncRecord.objects.get(integration=integration, source_id="ONLY-IN-M3")
    assert record.status == Status.SKIPPED
    assert record.error_message.startswith(
        f"item ONLY-IN-M3 is not in shop {integration.shop_connection.name}"
    )
    assert [u.sku for u in stock_unmatched_list(integration=integration)] == ["ONLY-IN-M3"]
    # Not retried forever: the next scans leave the skipped record alone.
    stock_scan_incremental(integration=integration)
    assert run_inventory_records(integration) == {"claimed": 0}
    record.refresh_from_db()
    assert record.status == Status.SKIPPED and record.attempts == 1
    assert StockUnmatched.objects.filter(integration=integration).count() == 1


def test_a_record_for_an_item_missing_in_the_shop_is_skipped_with_the_reason(shop, m3):
    integration = make_integration(shop, m3)
    m3_stock(m3, "NOPE-1", w100=3)
    sync_record_enqueue(
        integration=integration,
        flow="inventory",
        source_id="NOPE-1",
        source_system="infor_m3",
        direction="erp_to_shop",
        idempotency_key="stock:NOPE-1",
        enqueue=False,
    )

    run_inventory_records(integration)

    record = SyncRecord.objects.get(integration=integration, source_id="NOPE-1")
    assert record.status == Status.SKIPPED
    assert "item NOPE-1 is not in shop" in record.error_message
    assert StockUnmatched.objects.filter(integration=integration, sku="NOPE-1").exists()


def test_a_broken_feed_is_held_until_a_person_releases_it(shop, m3, caplog):
    integration = make_integration(shop, m3, hold_min_items=3, hold_ratio=0.5)
    wanted = stock_every_item(shop, m3)
    stock_reconcile_full(integration=integration)
    run_inventory_records(integration)
    for sku in wanted:  # the feed breaks: every balance reads zero
        m3_stock(m3, sku, w100=0, w200=0)

    run = stock_reconcile_full(integration=integration)

    assert run.report["records_opened"] == 0 and run.hold is not None
    hold = run.hold
    assert hold.state == StockHold.State.HELD and hold.items_zeroed == len(wanted)
    assert sorted(hold.skus) == sorted(wanted)
    assert list(stock_holds_open()) == [hold]
    alert = SyncRecord.objects.get(integration=integration, idempotency_key=f"stock-hold:{hold.pk}")
    assert alert.status == Status.NEEDS_ATTENTION and "broken ERP feed" in alert.error_message
    assert any("stock hold" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert {sku: shop_quantity(shop, sku) for sku in wanted} == wanted  # nothing written
    # While held, later scans do not publish either.
    assert stock_reconcile_full(integration=integration).report["held_by"] == hold.pk

    opened = stock_hold_release(hold=hold, note="stock count reset, confirmed")

    assert opened == len(wanted)
    run_inventory_records(integration)
    assert {shop_quantity(shop, sku) for sku in wanted} == {0}
    alert.refresh_from_db()
    assert alert.status == Status.SUCCEEDED and "released by system" in alert.resolution_note
    with pytest.raises(StockActionError):
        stock_hold_release(hold=hold)


def test_a_discarded_hold_writes_nothing(shop, m3):
    integration = make_integration(shop, m3, hold_min_items=3)
    wanted = stock_every_item(shop, m3)
    stock_reconcile_full(integration=integration)
    run_inventory_records(integration)
    for sku in wanted:
        m3_stock(m3, sku, w100=0, w200=0)
    hold = stock_reconcile_full(integration=integration).hold

    with pytest.raises(StockActionError):
        stock_hold_discard(hold=hold, note="")
    stock_hold_discard(hold=hold, note="M3 balance job failed; rerun tonight")

    assert run_inventory_records(integration) == {"claimed": 0}
    assert {sku: shop_quantity(shop, sku) for sku in wanted} == wanted
    assert not PublishedStock.objects.filter(integration=integration, target__isnull=False)


def test_shop_orders_the_erp_does_not_have_yet_are_reserved(shop, m3):
    integration = make_integration(shop, m3, reserve_recent_orders=True)
    wanted = stock_every_item(shop, m3)
    sku = sorted(wanted)[0]
    product_id, attribute_id = shop_skus(shop)[sku]
    shop.place_order(lines=[(product_id, attribute_id, 4)], when=datetime.now(shop.state.timezone))

    stock_reconcile_full(integration=integration)
    run_inventory_records(integration)

    assert shop_quantity(shop, sku) == wanted[sku] - 4


def test_pending_updates_for_one_item_collapse_into_one_record(shop, m3):
    integration = make_integration(shop, m3)
    stock_every_item(shop, m3)
    sku = sorted(shop_skus(shop))[0]

    assert stock_records_open(integration=integration, skus=[sku]) == 1
    assert stock_records_open(integration=integration, skus=[sku, sku]) == 0  # still pending
    assert SyncRecord.objects.filter(integration=integration, flow="inventory").count() == 1
    run_inventory_records(integration)
    record = SyncRecord.objects.get(integration=integration, flow="inventory")
    assert record.status == Status.SUCCEEDED and record.target_id

    assert stock_records_open(integration=integration, skus=[sku]) == 1  # a newer change
    record.refresh_from_db()
    assert (record.status, record.target_id) == (Status.PENDING, "")
