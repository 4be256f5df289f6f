"""Products end to end: M3 item master -> PrestaShop products and combinations."""

from decimal import Decimal

import pytest

from integrations.flows.products import products_open, products_scan
from integrations.models import PollCursor, Status, SyncRecord
from integrations.pipeline import process_records
from tests.stock.conftest import m3_stock, make_integration

pytestmark = pytest.mark.django_db


def products_integration(shop, m3, **options):
    integration = make_integration(shop, m3)
    integration.enabled_flows = ["products"]
    integration.options = {"products": options}
    integration.save()
    return integration


def run(integration):
    ids = SyncRecord.objects.filter(integration=integration, flow="products", status="pending")
    ids = list(ids.values_list("id", flat=True))
    return process_records(ids=ids, limit=max(1, len(ids)), concurrency=1).as_dict()


def simple_product(shop):
    with_combos = {c["id_product"] for c in shop.state.tables["combinations"].values()}
    return next(p for p in shop.state.tables["products"].values() if p["id"] not in with_combos)


def erp_item(m3, sku, **fields):
    m3_stock(m3, sku, w100=1)
    m3.state.items[sku].update(fields)


def test_erp_owned_fields_reach_the_shop_and_only_changes_are_written(shop, m3):
    integration = products_integration(shop, m3, custom_fields={"mpn": "ITGR"})
    product = simple_product(shop)
    sku = product["reference"]
    french = product["name"][2]
    erp_item(m3, sku, ITDS="Mug (ERP name)", SAPR="12.5", NEWE="0.75", STAT="20", ITGR="KITCH")

    products_open(integration=integration, skus=[sku])
    assert run(integration)["succeeded"] == 1

    after = shop.record("products", product["id"])
    assert after["name"] == {1: "Mug (ERP name)", 2: french}  # other languages kept
    assert Decimal(after["price"]) == Decimal("12.5")
    assert Decimal(after["weight"]) == Decimal("0.75")
    assert after["mpn"] == "KITCH"  # a custom field carried from the ERP's raw record
    record = SyncRecord.objects.get(integration=integration, flow="products")
    assert record.context["written"] == ["mpn", "name", "price", "weight"]

    writes = sum(1 for m, _, _ in shop.requests if m == "PATCH")
    products_open(integration=integration, skus=[sku])  # re-opened: nothing changed since
    run(integration)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED and record.context["written"] == []
    assert sum(1 for m, _, _ in shop.requests if m == "PATCH") == writes


def test_a_field_the_shop_owns_is_not_overwritten_but_reported(shop, m3):
    integration = products_integration(shop, m3, fields={"name": "shop"})
    product = simple_product(shop)
    before = dict(product["name"])
    erp_item(m3, product["reference"], ITDS="ERP wants this name")

    products_open(integration=integration, skus=[product["reference"]])
    run(integration)

    assert shop.record("products", product["id"])["name"] == before
    record = SyncRecord.objects.get(integration=integration, flow="products")
    assert record.context["shop_owned_differences"][0]["field"] == "name"
    assert record.context["shop_owned_differences"][0]["erp"] == "ERP wants this name"


def test_an_erp_item_missing_in_the_shop_is_skipped_with_the_reason(shop, m3):
    # With create_missing off (it creates by default), a missing item is skipped, not retried.
    integration = products_integration(shop, m3, create_missing=False)
    erp_item(m3, "ERP-ONLY-9")
    PollCursor.objects.create(
        integration=integration, stream="products:erp", value="2024-01-01T00:00:00+00:00"
    )

    report = products_scan(integration=integration)
    assert report["records_opened"] >= 1
    run(integration)

    record = SyncRecord.objects.get(integration=integration, source_id="ERP-ONLY-9")
    assert record.status == Status.SKIPPED
    assert record.error_message.startswith("item ERP-ONLY-9 is not in shop")
