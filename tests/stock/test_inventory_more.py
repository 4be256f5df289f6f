"""Inventory: TIMS as the ERP, retries from current state, tasks, the guard, the admin."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection, System
from connectors.tims.simulator.server import TimsSimulator
from integrations.flows.inventory import inventory_scan_integration_task
from integrations.models import Status, StockHold, StockRun, SyncRecord
from integrations.pipeline import process_records
from integrations.services.stock import (
    InventoryOptions,
    Plan,
    guard_trips,
    stock_reconcile_full,
    stock_records_open,
    target_quantity,
)
from tests.factories import IntegrationFactory
from tests.stock.conftest import (
    m3_stock,
    make_integration,
    run_inventory_records,
    shop_quantity,
    shop_skus,
)

pytestmark = pytest.mark.django_db


def test_target_is_availability_less_buffer_and_in_flight_rounded_down_never_negative():
    assert target_quantity(available=Decimal("10.9"), buffer=2, in_flight=3) == 5
    assert target_quantity(available=Decimal("1"), buffer=2) == 0


def test_the_guard_counts_zeroed_and_cut_items_against_the_catalogue():
    options = InventoryOptions(hold_ratio=0.5, hold_min_items=3)
    assert not guard_trips(Plan(zeroed=2, cut=0), catalogue_size=4, options=options)
    assert guard_trips(Plan(zeroed=2, cut=1), catalogue_size=6, options=options)
    assert not guard_trips(Plan(zeroed=40, cut=9), catalogue_size=100, options=options)
    assert guard_trips(Plan(zeroed=40, cut=10), catalogue_size=100, options=options)


def test_tims_inventory_is_published_per_configured_locations(shop):
    with TimsSimulator(seed=1) as tims:
        codes = sorted({code for code, _ in tims.state.stock})
        with_combos = {c["id_product"] for c in shop.state.tables["combinations"].values()}
        simple = [p for p in shop.state.tables["products"].values() if p["id"] not in with_combos]
        for product, code in zip(simple, codes, strict=False):
            product["reference"] = code
        erp = Connection.objects.create(
            system=System.TIMS,
            name="tims",
            base_url=tims.base_url,
            credentials=tims.credentials.as_dict(),
            options=tims.connection_options(),
        )
        integration = make_integration(shop, _m3_stub(), warehouses=["MAIN", "EAST"])
        integration.erp_connection = erp
        integration.save()

        stock_reconcile_full(integration=integration)
        run_inventory_records(integration)

        for product in simple[: len(codes)]:
            code = product["reference"]
            want = sum(
                Decimal(tims.state.stock[(code, loc)]["available"]) for loc in ("MAIN", "EAST")
            )
            assert shop_quantity(shop, code) == int(want)


class _m3_stub:  # make_integration only needs a base_url to build an (unused) M3 connection
    base_url = "http://127.0.0.1:9"

    @staticmethod
    def ionapi():
        return {}


def test_a_failed_write_is_retried_from_the_erp_state_at_retry_time(shop, m3):
    integration = make_integration(shop, m3)
    shop_conn = integration.shop_connection
    shop_conn.options = {**shop_conn.options, "safe_retries": 0}
    shop_conn.save()
    sku = sorted(shop_skus(shop))[0]
    m3_stock(m3, sku, w100=30, w200=0)
    shop.faults.fail_next("error", method="PATCH", resource="stock_availables")
    stock_records_open(integration=integration, skus=[sku])

    run_inventory_records(integration)
    record = SyncRecord.objects.get(integration=integration, flow="inventory")
    assert record.status == Status.RETRYING and record.error_class == "TransientError"

    m3_stock(m3, sku, w100=11, w200=0)  # the ERP moves while the record waits
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now())
    process_records(ids=[record.pk], concurrency=1)

    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert shop_quantity(shop, sku) == 11  # not the 30 the first attempt computed


def test_the_scan_task_reports_and_a_second_scan_while_one_runs_is_a_no_op(shop, m3):
    integration = make_integration(shop, m3)
    for sku in shop_skus(shop):
        m3_stock(m3, sku, w100=3)

    report = inventory_scan_integration_task(integration.pk, "full")
    assert report["items"] == len(shop_skus(shop)) and report["run"]

    StockRun.objects.create(integration=integration, kind="full", started_at=timezone.now())
    assert inventory_scan_integration_task(integration.pk, "full") == {
        "run": None,
        "skipped": "busy",
    }


def test_admin_lists_stock_and_releases_a_hold(client, shop, m3):
    integration = make_integration(shop, m3, hold_min_items=3)
    wanted = {}
    for n, sku in enumerate(sorted(shop_skus(shop))):
        wanted[sku] = shop_quantity(shop, sku) + n + 1  # a believable first publish
        m3_stock(m3, sku, w100=wanted[sku])
    stock_reconcile_full(integration=integration)
    run_inventory_records(integration)
    for sku in wanted:
        m3_stock(m3, sku, w100=0)
    hold = stock_reconcile_full(integration=integration).hold
    admin = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin)

    for model in ("publishedstock", "stockhold", "stockrun", "stockunmatched"):
        response = client.get(reverse(f"admin:integrations_{model}_changelist"))
        assert response.status_code == 200, model
    assert (
        client.get(reverse("admin:integrations_stockhold_change", args=[hold.pk])).status_code
        == 200
    )

    response = client.post(
        reverse("admin:integrations_stockhold_changelist"),
        {"action": "release_holds", "_selected_action": [hold.pk]},
        follow=True,
    )
    assert response.status_code == 200
    hold.refresh_from_db()
    assert hold.state == StockHold.State.RELEASED and hold.decided_by == "ops"
    run_inventory_records(integration)
    assert {shop_quantity(shop, sku) for sku in wanted} == {0}


def test_an_integration_without_the_flow_is_not_scanned(shop, m3):
    from integrations.services.stock import inventory_integrations

    publishing = make_integration(shop, m3)
    IntegrationFactory(enabled_flows=["order_to_cash"])
    assert inventory_integrations() == [publishing]


def test_an_item_without_balance_in_the_shops_warehouses_publishes_zero(shop, m3):
    integration = make_integration(shop, m3, warehouses=["200"])
    skus = sorted(shop_skus(shop))
    for sku in skus[1:]:
        m3_stock(m3, sku, w200=shop_quantity(shop, sku))
    m3_stock(m3, skus[0], w100=50)  # in M3, but not stocked in warehouse 200
    product_id, attribute_id = shop_skus(shop)[skus[0]]
    shop.set_stock(product_id, attribute_id, 4)

    run = stock_reconcile_full(integration=integration)
    run_inventory_records(integration)

    assert run.report["not_in_erp"] == 0 and run.report["to_write"] == 1
    assert shop_quantity(shop, skus[0]) == 0


def test_two_shop_items_sharing_a_reference_are_counted_not_both_published(shop, m3):
    integration = make_integration(shop, m3, page_size=3)
    skus = shop_skus(shop)
    for sku in skus:
        m3_stock(m3, sku, w100=shop_quantity(shop, sku) + 1)
    products = shop.state.tables["products"]
    with_combos = {c["id_product"] for c in shop.state.tables["combinations"].values()}
    simple = [p for p in products.values() if p["id"] not in with_combos]
    simple[-1]["reference"] = simple[0]["reference"]  # far apart: different chunks

    run = stock_reconcile_full(integration=integration)

    assert run.report["duplicate_skus"] == 1
    assert run.report["items"] == len(skus) - 1
