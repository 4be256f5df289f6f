"""Item master ownership from the mapping set, shop changes found by webhook and by poll.

End to end against the PrestaShop, TIMS and M3 simulators: a back-office edit (no webhook) is
found by the products poller and reaches the ERP only for shop-owned fields; a webhook and a
poll of one change are one record and one ERP write; our own writes do not come back as work;
custom fields travel both ways by the same ownership.
"""

import json
from decimal import Decimal

import pytest

from connectors.tims.profile import Operation
from connectors.tims.simulator.server import TimsSimulator
from integrations.flows.products import item_master, products_open
from integrations.models import PollCursor, Status, SyncRecord, WebhookEvent
from integrations.pollers.prestashop import ProductsPoller
from integrations.pollers.service import poll_stream
from integrations.webhooks.processing import webhook_event_receive, webhook_events_process
from mappings import serialization
from mappings.models import FieldMapping, MappingSet
from tests.masterdata.test_products_both_ways import (
    m3_integration,
    record_of,
    run,
    simple_product,
    tims_integration,
)
from tests.stock.conftest import m3_stock

pytestmark = pytest.mark.django_db

SKU = "CYL-AR-300"  # seeded in the TIMS simulator: "Argon cylinder 300 cf", 89.00


@pytest.fixture
def tims():
    with TimsSimulator(seed=1) as sim:
        yield sim


def product_set(integration, *rows, name="Item master"):
    """An active product mapping set for the integration, through the import format."""
    fields = [
        {"target": target, "source": source, **({"owner": owner} if owner != "erp" else {})}
        for target, source, owner in rows
    ]
    report = serialization.import_data(
        {
            "format": serialization.FORMAT,
            "mapping_sets": [
                {
                    "name": name,
                    "integration": integration.slug,
                    "entity": "product",
                    "direction": "erp_to_shop",
                    "target_system": "prestashop",
                    "operation": "products.item_master",
                    "active": True,
                    "fields": fields,
                }
            ],
        }
    )
    assert report.created == 1, report.changes
    return MappingSet.objects.get(integration=integration, name=name)


STANDARD = (("name", "name", "erp"), ("weight", "weight", "erp"), ("active", "active", "erp"))


def linked_product(shop, sku=SKU):
    product = simple_product(shop)
    product["reference"] = sku
    return product


def poll(integration):
    return poll_stream(integration=integration, poller=ProductsPoller(integration))


def webhook(integration, event_id, **data):
    body = json.dumps({"type": "product.updated", "data": data})
    event = webhook_event_receive(
        integration_id=integration.pk,
        source="prestashop",
        event_id=event_id,
        event_type="product.updated",
        headers={"Content-Type": "application/json"},
        body=body,
    )
    assert event is not None
    return webhook_events_process(ids=[event.pk])


def item_updates(tims):
    return tims.app.requests_to(Operation.ITEM_UPDATE)


# ---------------------------------------------------------------- the mapping set


def test_ownership_is_read_from_the_active_mapping_set_not_the_options(shop, tims):
    integration = tims_integration(shop, tims, fields={"price": "erp"})
    product_set(integration, *STANDARD, ("price", "price", "shop"))
    rules = {r.shop_field: (r.owner, r.erp_field) for r in item_master(integration).rules}
    assert rules["price"] == ("shop", "price")  # the set wins over options.products.fields
    assert rules["name"] == ("erp", "name")
    assert "mapping set 'Item master'" in item_master(integration).origin


def test_ownership_round_trips_through_export_and_import(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, ("name", "name", "erp"), ("mpn", "raw.mpn", "shop"))
    data = serialization.export_data(integration=integration.slug)
    (exported,) = data["mapping_sets"]
    assert exported["fields"] == [
        {"target": "name", "source": "name"},  # erp is the default, left out
        {"target": "mpn", "source": "raw.mpn", "owner": "shop"},
    ]
    again = serialization.import_data(serialization.load(serialization.dump(data)))
    assert (again.unchanged, again.changed) == (1, False)

    exported["fields"][1]["owner"] = "erp"
    serialization.import_data(data)
    assert FieldMapping.objects.get(target_field="mpn").owner == "erp"

    exported["fields"][1]["owner"] = "nobody"
    with pytest.raises(serialization.ImportProblem, match="owner"):
        serialization.import_data(data)


def test_a_shop_owned_row_must_name_one_erp_field(shop, tims):
    integration = tims_integration(shop, tims)
    linked_product(shop)
    product_set(integration, ("name", "join(' ', [name, sku])", "shop"))
    products_open(integration=integration, skus=[SKU])
    run(integration)
    record = record_of(integration, SKU)
    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "name" and record.error_value == "join(' ', [name, sku])"
    assert "names no single ERP field" in record.error_message
    assert item_updates(tims) == []


# ---------------------------------------------------------------- shop -> ERP, found by the poller


def test_a_back_office_price_change_is_polled_and_reaches_the_erp_when_the_shop_owns_it(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "shop"))
    product = linked_product(shop)
    shop.state.back_office_edit("products", product["id"], price="95.50")

    result = poll(integration)
    assert result.error == "" and result.records_created >= 1
    run(integration)

    record = record_of(integration, SKU)
    assert record.status == Status.SUCCEEDED
    assert record.context["trigger"] == "shop product.updated (poll)"
    assert Decimal(tims.state.items[SKU]["list_price"]) == Decimal("95.50")
    (sent,) = item_updates(tims)
    assert set(sent.body) == {"list_price"}  # only the shop-owned field
    assert record.context["sent_to_erp"] == ["price"]


def test_the_same_change_to_an_erp_owned_field_is_not_sent_and_is_reported(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "erp"))
    product = linked_product(shop)
    shop.state.back_office_edit("products", product["id"], price="95.50", name="Shop name")

    poll(integration)
    run(integration)

    record = record_of(integration, SKU)
    assert record.status == Status.SUCCEEDED
    assert item_updates(tims) == []  # nothing to the ERP
    assert tims.state.items[SKU]["list_price"] == "89.00"
    reported = {d["field"]: d for d in record.context["erp_owned_differences"]}
    assert reported["price"]["shop"] == "95.50" and reported["price"]["erp"] == "89.00"
    assert "the ERP owns it" in reported["price"]["reason"]
    assert reported["name"]["shop"] == "Shop name"
    after = shop.record("products", product["id"])
    assert Decimal(str(after["price"])) == Decimal("89")  # the ERP's value is back
    assert after["name"][1] == "Argon cylinder 300 cf"


def test_a_webhook_and_a_poll_of_one_change_are_one_record_and_one_erp_write(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "shop"))
    product = linked_product(shop)
    edited = shop.state.back_office_edit("products", product["id"], price="97.00")

    webhook(
        integration,
        "evt-1",
        resource="products",
        id=product["id"],
        date_upd=edited["date_upd"],
        reference=SKU,
    )
    poll(integration)
    assert SyncRecord.objects.filter(integration=integration, source_id=SKU).count() == 1
    run(integration)
    # Late duplicates of the same change: the record re-opens, reads both sides, writes nothing.
    webhook(integration, "evt-2", resource="products", id=product["id"], reference=SKU)
    poll(integration)
    run(integration)

    assert SyncRecord.objects.filter(integration=integration, source_id=SKU).count() == 1
    assert len(item_updates(tims)) == 1
    assert Decimal(tims.state.items[SKU]["list_price"]) == Decimal("97.00")
    assert record_of(integration, SKU).status == Status.SUCCEEDED


def test_a_webhook_without_a_reference_finds_the_item_record(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "shop"))
    product = linked_product(shop)
    shop.state.back_office_edit("products", product["id"], price="91.00")

    webhook(integration, "evt-3", resource="products", id=product["id"])
    run(integration)  # the finder: reads the reference, opens product:<sku>
    finder = SyncRecord.objects.get(
        integration=integration, idempotency_key=f"prestashop:products:{product['id']}"
    )
    assert finder.status == Status.SUCCEEDED
    assert finder.context["opened"]["key"] == f"product:{SKU}"
    run(integration)  # the item's own record writes
    assert Decimal(tims.state.items[SKU]["list_price"]) == Decimal("91.00")
    assert len(item_updates(tims)) == 1


def test_a_shop_change_to_an_unknown_sku_is_skipped_naming_it(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "shop"))
    product = linked_product(shop, "NOT-IN-TIMS-7")
    shop.state.back_office_edit("products", product["id"], price="12.00")
    nameless = next(p for p in shop.state.tables["products"].values() if p["id"] != product["id"])
    nameless["reference"] = ""

    poll(integration)
    webhook(integration, "evt-4", resource="products", id=nameless["id"])
    run(integration)

    record = record_of(integration, "NOT-IN-TIMS-7")
    assert record.status == Status.SKIPPED
    assert "item NOT-IN-TIMS-7 is not in the ERP" in record.error_message
    finder = SyncRecord.objects.get(idempotency_key=f"prestashop:products:{nameless['id']}")
    assert finder.status == Status.SKIPPED
    assert f"shop product {nameless['id']} has no reference" in finder.error_message
    assert item_updates(tims) == []


# ---------------------------------------------------------------- loop safety


def test_an_erp_change_reaches_the_shop_and_does_not_echo_back(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "erp"))
    product = linked_product(shop)
    products_open(integration=integration, skus=[SKU])  # align both sides first
    run(integration)
    tims.state.update_item(SKU, {"description": "Argon 300 (new label)"})

    products_open(integration=integration, skus=[SKU])  # what the ERP scan does
    run(integration)
    record = record_of(integration, SKU)
    assert record.context["written"] == ["name"]
    assert shop.record("products", product["id"])["name"][1] == "Argon 300 (new label)"
    updates_before = len(item_updates(tims))

    # Our write moved the product's date_upd: the poller sees our own write and drops it.
    result = poll(integration)
    assert result.records_created == 0 and result.ignored >= 1
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    # The shop module's webhook for our write re-opens the record, which writes nothing.
    stored = shop.record("products", product["id"])
    webhook(
        integration,
        "evt-echo",
        resource="products",
        id=product["id"],
        date_upd=stored["date_upd"],
        reference=SKU,
    )
    run(integration)
    record.refresh_from_db()
    assert record.context["written"] == []
    assert len(item_updates(tims)) == updates_before == 0
    assert shop.record("products", product["id"])["date_upd"] == stored["date_upd"]
    assert WebhookEvent.objects.filter(event_id="evt-echo", state="processed").exists()


def test_a_value_the_erp_keeps_in_another_form_is_not_sent_again_and_again(shop, tims, monkeypatch):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD, ("price", "price", "shop"))
    product = linked_product(shop)
    real_update = tims.state.update_item

    def two_decimals(code, changes):  # an ERP that keeps prices to the cent
        if "list_price" in changes:
            changes = {
                **changes,
                "list_price": str(Decimal(changes["list_price"]).quantize(1 / Decimal(100))),
            }
        return real_update(code, changes)

    monkeypatch.setattr(tims.state, "update_item", two_decimals)
    shop.state.back_office_edit("products", product["id"], price="10.123456")
    for _ in range(3):  # the ERP scan and the poller both keep re-opening the item
        products_open(integration=integration, skus=[SKU])
        run(integration)

    assert len(item_updates(tims)) == 1
    assert tims.state.items[SKU]["list_price"] == "10.12"
    (kept,) = record_of(integration, SKU).context["not_resent"]
    assert kept["field"] == "price" and "already sent" in kept["reason"]


# ---------------------------------------------------------------- custom fields both ways


def test_custom_fields_travel_both_ways_by_their_owner_with_tims(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(
        integration,
        *STANDARD,
        ("mpn", "raw.mpn", "erp"),
        ("supplier_reference", "raw.supplier_reference", "shop"),
    )
    product = linked_product(shop)
    tims.state.items[SKU]["mpn"] = "AR-300-MPN"
    shop.state.back_office_edit("products", product["id"], supplier_reference="SUP-ARGON-9")

    poll(integration)
    run(integration)

    after = shop.record("products", product["id"])
    assert after["mpn"] == "AR-300-MPN"  # ERP -> shop
    assert tims.state.items[SKU]["supplier_reference"] == "SUP-ARGON-9"  # shop -> ERP
    (sent,) = item_updates(tims)
    assert set(sent.body) == {"supplier_reference"}
    assert record_of(integration, SKU).context["sent_to_erp"] == ["raw.supplier_reference"]


def test_a_shop_owned_custom_field_reaches_m3_and_an_erp_owned_one_comes_from_it(shop, m3):
    integration = m3_integration(
        shop, m3, m3_options={"item_update_transaction": "MMS200MI/UpdItmBasic"}
    )
    product = simple_product(shop)
    sku = product["reference"]
    m3_stock(m3, sku, w100=1)
    m3.state.items[sku].update(ITDS=product["name"][1], CFI1="M3-MPN-1")
    product_set(
        integration,
        ("name", "name", "erp"),
        ("mpn", "raw.CFI1", "erp"),
        ("supplier_reference", "raw.CFI2", "shop"),
        ("price", "price", "shop"),  # M3 keeps prices in price lists: noted, not sent
    )
    shop.state.back_office_edit(
        "products", product["id"], supplier_reference="BUYER-22", price="42.00"
    )

    poll(integration)
    run(integration)

    assert shop.record("products", product["id"])["mpn"] == "M3-MPN-1"
    assert m3.state.items[sku]["CFI2"] == "BUYER-22"
    (call,) = [c for c in m3.state.calls if c["transaction"] == "UpdItmBasic"]
    assert set(call["record"]) - {"CONO", "DIVI"} == {"ITNO", "CFI2"}
    record = record_of(integration, sku)
    assert record.context["sent_to_erp"] == ["raw.CFI2"]
    assert "price" in record.context["erp_update_note"]


# ---------------------------------------------------------------- admin


def test_the_admin_shows_and_edits_the_owner(shop, tims, admin_client):
    from django.urls import reverse

    integration = tims_integration(shop, tims)
    mapping_set = product_set(integration, ("name", "name", "erp"), ("mpn", "raw.mpn", "shop"))
    page = admin_client.get(reverse("admin:mappings_mappingset_change", args=[mapping_set.pk]))
    assert page.status_code == 200
    assert b'name="fields-1-owner"' in page.content

    row = FieldMapping.objects.get(target_field="name")
    url = reverse("admin:mappings_fieldmapping_change", args=[row.pk])
    post = {
        "mapping_set": mapping_set.pk,
        "position": row.position,
        "target_field": "name",
        "source": "name",
        "owner": "shop",
    }
    assert admin_client.post(url, post).status_code == 302
    row.refresh_from_db()
    assert row.owner == "shop"
    assert {r.shop_field: r.owner for r in item_master(integration).rules}["name"] == "shop"
    post["owner"] = "both"
    assert b"not one of the available choices" in admin_client.post(url, post).content


# ---------------------------------------------------------------- combinations


def a_combination(shop, reference):
    combination = next(iter(shop.state.tables["combinations"].values()))
    combination["reference"] = reference
    return combination


def test_a_combination_follows_its_changed_product_in_the_poll(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, ("ean13", "ean || raw.ean", "erp"), ("mpn", "raw.mpn", "shop"))
    tims.state.create_item({"item_code": "TEE-RED-M", "description": "Tee red M"})
    combination = a_combination(shop, "TEE-RED-M")
    shop.state.back_office_edit("combinations", combination["id"], mpn="TEE-MPN-M")
    # Saving the product page saves the product too: its date_upd moves.
    shop.state.back_office_edit("products", combination["id_product"], active=1)

    poll(integration)
    run(integration)

    record = record_of(integration, "TEE-RED-M")
    assert record.status == Status.SUCCEEDED, record.error_message
    assert record.target_id == f"combinations/{combination['id']}"
    assert tims.state.items["TEE-RED-M"]["mpn"] == "TEE-MPN-M"
    assert record.context["sent_to_erp"] == ["raw.mpn"]


def test_a_combination_webhook_without_a_reference_reaches_the_item(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, ("mpn", "raw.mpn", "shop"), ("price", "price", "shop"))
    tims.state.create_item({"item_code": "TEE-BLUE-L", "description": "Tee blue L"})
    combination = a_combination(shop, "TEE-BLUE-L")
    shop.state.back_office_edit("combinations", combination["id"], mpn="BLUE-L-MPN")

    body = json.dumps(
        {
            "type": "combination.updated",
            "data": {"resource": "combinations", "id": combination["id"]},
        }
    )
    event = webhook_event_receive(
        integration_id=integration.pk,
        source="prestashop",
        event_id="evt-combo",
        event_type="combination.updated",
        headers={"Content-Type": "application/json"},
        body=body,
    )
    webhook_events_process(ids=[event.pk])
    run(integration)  # the finder
    run(integration)  # the item's record

    assert tims.state.items["TEE-BLUE-L"]["mpn"] == "BLUE-L-MPN"
    (sent,) = item_updates(tims)
    assert set(sent.body) == {"mpn"}  # price is not a combination field: never sent from one


def test_an_echo_only_poll_still_moves_the_cursor(shop, tims):
    integration = tims_integration(shop, tims)
    product_set(integration, *STANDARD)
    linked_product(shop)
    products_open(integration=integration, skus=[SKU])
    run(integration)  # writes the ERP's name, weight… to the shop: date_upd moves

    first = poll(integration)
    assert (first.records_created, first.ignored) == (0, 1)
    cursor = PollCursor.objects.get(integration=integration, stream="prestashop.products")
    assert cursor.value == shop.record("products", linked_product(shop)["id"])["date_upd"]
