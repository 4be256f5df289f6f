"""Products both ways: ERP items missing in the shop are created (once, with their
combinations); fields the shop owns go back to TIMS (assumed interface) and to M3 (through the
configured, unverified item_update_transaction); ERP-owned fields never go back."""

from decimal import Decimal

import pytest

from connectors.canonical import Variant
from connectors.models import Connection, System
from connectors.prestashop.simulator import DEFAULT_KEY
from connectors.tims.profile import Operation
from connectors.tims.simulator.server import TimsSimulator
from integrations.flows import products as products_flow
from integrations.flows.products import products_open
from integrations.models import Status, SyncRecord
from integrations.pipeline import process_records
from tests.factories import IntegrationFactory
from tests.stock.conftest import m3_stock, make_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def tims():
    with TimsSimulator(seed=1) as sim:
        yield sim


def m3_integration(shop, m3, *, m3_options=None, **options):
    integration = make_integration(shop, m3)
    integration.enabled_flows = ["products"]
    integration.options = {"products": options}
    integration.save()
    if m3_options:
        connection = integration.erp_connection
        connection.options = {**connection.options, **m3_options}
        connection.save()
    return integration


def tims_integration(shop, tims, **options):
    shop_connection = Connection.objects.create(
        system=System.PRESTASHOP,
        name=f"shop {shop.base_url}",
        base_url=shop.base_url,
        credentials={"api_key": DEFAULT_KEY},
        options={"version": "8"},
    )
    erp = Connection.objects.create(
        system=System.TIMS,
        name="tims",
        base_url=tims.base_url,
        credentials=tims.credentials.as_dict(),
        options=tims.connection_options(),
    )
    return IntegrationFactory(
        shop_connection=shop_connection,
        erp_connection=erp,
        enabled_flows=["products"],
        options={"products": options},
    )


def run(integration):
    ids = SyncRecord.objects.filter(integration=integration, flow="products", status="pending")
    ids = list(ids.values_list("id", flat=True))
    return process_records(ids=ids, limit=max(1, len(ids)), concurrency=1).as_dict()


def record_of(integration, sku):
    return SyncRecord.objects.get(integration=integration, flow="products", source_id=sku)


def simple_product(shop):
    with_combos = {c["id_product"] for c in shop.state.tables["combinations"].values()}
    return next(p for p in shop.state.tables["products"].values() if p["id"] not in with_combos)


def shop_products(shop, reference):
    return [p for p in shop.state.tables["products"].values() if p["reference"] == reference]


# ---------------------------------------------------------------- ERP -> shop: create


def test_a_missing_product_is_created_once(shop, m3):
    integration = m3_integration(shop, m3, create_missing=True)
    m3_stock(m3, "ERP-NEW-1", w100=1)
    m3.state.items["ERP-NEW-1"].update(ITDS="Brand new mug", SAPR="9.5", NEWE="0.4")

    products_open(integration=integration, skus=["ERP-NEW-1"])
    assert run(integration)["succeeded"] == 1
    (created,) = shop_products(shop, "ERP-NEW-1")
    assert set(created["name"].values()) == {"Brand new mug"}  # every shop language
    assert Decimal(str(created["price"])) == Decimal("9.5")
    record = record_of(integration, "ERP-NEW-1")
    assert record.context["created"]["product"] == str(created["id"])

    products_open(integration=integration, skus=["ERP-NEW-1"])  # a re-run finds it
    run(integration)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert len(shop_products(shop, "ERP-NEW-1")) == 1
    assert "created" not in record.context.get("written", [])


def test_without_create_missing_the_item_is_skipped_as_before(shop, m3):
    integration = m3_integration(shop, m3, create_missing=False)
    m3_stock(m3, "ERP-ONLY-2", w100=1)
    products_open(integration=integration, skus=["ERP-ONLY-2"])
    run(integration)
    record = record_of(integration, "ERP-ONLY-2")
    assert record.status == Status.SKIPPED
    assert record.error_message.startswith("item ERP-ONLY-2 is not in shop")
    assert shop_products(shop, "ERP-ONLY-2") == []


def test_combinations_are_created_for_the_erp_variants(shop, m3, monkeypatch):
    integration = m3_integration(shop, m3, create_missing=True)
    m3_stock(m3, "ERP-TEE", w100=1)
    real_get = products_flow.ErpItems.get

    def with_variants(self, sku):
        product = real_get(self, sku)
        variants = [Variant(id=f"{sku}-{s}", sku=f"{sku}-{s}") for s in ("S", "M")]
        return product.model_copy(update={"variants": variants})

    monkeypatch.setattr(products_flow.ErpItems, "get", with_variants)
    products_open(integration=integration, skus=["ERP-TEE"])
    assert run(integration)["succeeded"] == 1
    (product,) = shop_products(shop, "ERP-TEE")
    combos = [
        c for c in shop.state.tables["combinations"].values() if c["id_product"] == product["id"]
    ]
    assert sorted(c["reference"] for c in combos) == ["ERP-TEE-M", "ERP-TEE-S"]

    products_open(integration=integration, skus=["ERP-TEE"])
    run(integration)
    assert len(shop_products(shop, "ERP-TEE")) == 1
    again = [
        c for c in shop.state.tables["combinations"].values() if c["id_product"] == product["id"]
    ]
    assert len(again) == 2


# ---------------------------------------------------------------- shop -> ERP


def test_a_shop_owned_name_goes_to_tims_and_erp_owned_fields_do_not(shop, tims):
    integration = tims_integration(shop, tims, fields={"name": "shop", "ean": "shop"})
    product = simple_product(shop)
    product["reference"] = "CYL-AR-300"
    product["ean13"] = "4006381333931"
    shop_name = product["name"][1]
    item_before = dict(tims.state.items["CYL-AR-300"])

    products_open(integration=integration, skus=["CYL-AR-300"])
    assert run(integration)["succeeded"] == 1

    item = tims.state.items["CYL-AR-300"]
    assert item["description"] == shop_name and item["ean"] == "4006381333931"
    assert item["list_price"] == item_before["list_price"]
    (sent,) = tims.app.requests_to(Operation.ITEM_UPDATE)
    assert set(sent.body) == {"description", "ean"}  # never price, weight or active
    record = record_of(integration, "CYL-AR-300")
    assert record.context["sent_to_erp"] == ["ean", "name"]
    # the ERP-owned price went the other way
    assert Decimal(str(shop.record("products", product["id"])["price"])) == Decimal("89.00")

    products_open(integration=integration, skus=["CYL-AR-300"])  # nothing differs now
    run(integration)
    assert len(tims.app.requests_to(Operation.ITEM_UPDATE)) == 1


def test_a_shop_owned_name_goes_to_m3_when_the_transaction_is_configured(shop, m3):
    integration = m3_integration(
        shop,
        m3,
        m3_options={"item_update_transaction": "MMS200MI/UpdItmBasic"},
        fields={"name": "shop"},
    )
    product = simple_product(shop)
    sku = product["reference"]
    m3_stock(m3, sku, w100=1)
    m3.state.items[sku].update(ITDS="ERP name", NEWE="2.5", SAPR="30")
    shop_name = product["name"][1]

    products_open(integration=integration, skus=[sku])
    assert run(integration)["succeeded"] == 1

    assert m3.state.items[sku]["ITDS"] == shop_name
    (call,) = [c for c in m3.state.calls if c["transaction"] == "UpdItmBasic"]
    assert set(call["record"]) - {"CONO", "DIVI"} == {"ITNO", "ITDS"}  # never NEWE or SAPR
    after = shop.record("products", product["id"])
    assert Decimal(str(after["weight"])) == Decimal("2.5")  # ERP-owned: ERP -> shop
    assert record_of(integration, sku).context["sent_to_erp"] == ["name"]


def test_m3_without_the_transaction_notes_the_option_and_sends_nothing(shop, m3):
    integration = m3_integration(shop, m3, fields={"name": "shop"})
    product = simple_product(shop)
    sku = product["reference"]
    m3_stock(m3, sku, w100=1)
    m3.state.items[sku].update(ITDS="ERP name")

    products_open(integration=integration, skus=[sku])
    run(integration)

    record = record_of(integration, sku)
    assert record.status == Status.SUCCEEDED
    assert "item_update_transaction" in record.context["erp_update_note"]
    assert record.context["sent_to_erp"] == []
    assert m3.state.items[sku]["ITDS"] == "ERP name"
    assert not [c for c in m3.state.calls if c["transaction"] == "UpdItmBasic"]
