"""Customers end to end: PrestaShop simulator customers and addresses -> M3 simulator."""

import pytest

from integrations.flows.customers import customers_open, customers_scan
from integrations.models import Link, PollCursor, Status, SyncRecord
from integrations.pipeline import process_records
from tests.stock.conftest import make_integration

pytestmark = pytest.mark.django_db


def customers_integration(shop, m3):
    integration = make_integration(shop, m3)
    integration.enabled_flows = ["customers"]
    integration.options = {}
    integration.save()
    erp = integration.erp_connection
    erp.options = {**erp.options, "customer_template": "WEBTMPL"}
    erp.save()
    return integration


def new_shop_customer(shop, *, email, first="Zoé", last="Lefèvre", city="Lyon") -> int:
    state = shop.state
    with state.lock:
        stamp = state.now()
        customer = state.new_record(
            "customers",
            {
                "email": email,
                "firstname": first,
                "lastname": last,
                "active": 1,
                "id_lang": 1,
                "id_shop": 1,
                "date_add": stamp,
                "date_upd": stamp,
            },
        )
        state.new_record(
            "addresses",
            {
                "id_customer": customer["id"],
                "id_country": 8,
                "alias": "Home",
                "firstname": first,
                "lastname": last,
                "address1": "12 rue de la Paix",
                "postcode": "69002",
                "city": city,
                "date_add": stamp,
                "date_upd": stamp,
            },
        )
    return customer["id"]


def run(integration):
    ids = SyncRecord.objects.filter(integration=integration, flow="customers", status="pending")
    ids = list(ids.values_list("id", flat=True))
    return process_records(ids=ids, limit=max(1, len(ids)), concurrency=1).as_dict()


def m3_customers_with(m3, email):
    return [c for c in m3.state.customers.values() if c.get("MAIL") == email]


def test_a_new_shop_customer_is_created_in_the_erp_with_its_address(shop, m3):
    integration = customers_integration(shop, m3)
    shop_id = new_shop_customer(shop, email="zoe@example.org")

    customers_open(integration=integration, shop_ids=[str(shop_id)])
    assert run(integration)["succeeded"] == 1

    [created] = m3_customers_with(m3, "zoe@example.org")
    assert created["CUNM"] == "Zoé Lefèvre" and created["TOWN"] == "Lyon"
    record = SyncRecord.objects.get(integration=integration, flow="customers")
    assert record.target_id == created["CUNO"]
    assert record.direction == "shop_to_erp"
    assert Link.objects.get(integration=integration, entity="customer").erp_id == created["CUNO"]
    addresses = [a for (cuno, _, _), a in m3.state.addresses.items() if cuno == created["CUNO"]]
    assert len(addresses) == 1 and addresses[0]["CUA1"] == "12 rue de la Paix"

    # Changed in the shop: the scan re-opens the record; the ERP customer is updated, not
    # created again, and the address is not added twice.
    PollCursor.objects.create(
        integration=integration, stream="customers:shop", value="2000-01-01T00:00:00+00:00"
    )
    shop.state.tables["customers"][shop_id]["lastname"] = "Lefèvre-Martin"
    assert customers_scan(integration=integration)["records_opened"] >= 1
    run(integration)

    [again] = m3_customers_with(m3, "zoe@example.org")
    assert again["CUNO"] == created["CUNO"] and again["CUNM"] == "Zoé Lefèvre-Martin"
    assert len([k for k in m3.state.addresses if k[0] == created["CUNO"]]) == 1


def test_an_erp_customer_with_the_same_email_and_details_is_linked(shop, m3):
    integration = customers_integration(shop, m3)
    m3.state.customers["WEB0001"].update(CUNM="Paul Durand", PONO="69002", CSCD="FR")
    shop_id = new_shop_customer(shop, email="customer1@example.com", first="Paul", last="Durand")

    customers_open(integration=integration, shop_ids=[str(shop_id)])
    run(integration)

    record = SyncRecord.objects.get(integration=integration, flow="customers")
    assert record.status == Status.SUCCEEDED and record.target_id == "WEB0001"
    assert len(m3_customers_with(m3, "customer1@example.com")) == 1


def test_an_erp_customer_with_the_same_email_but_other_details_needs_attention(shop, m3):
    integration = customers_integration(shop, m3)
    shop_id = new_shop_customer(shop, email="customer2@example.com", first="Eve", last="Klein")

    customers_open(integration=integration, shop_ids=[str(shop_id)])
    run(integration)

    record = SyncRecord.objects.get(integration=integration, flow="customers")
    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "email" and record.error_value == "customer2@example.com"
    assert "WEB0002" in record.error_message
    assert record.context["customer_conflict"]["diff"][0]["field"] == "name"
    assert len(m3_customers_with(m3, "customer2@example.com")) == 1  # nothing created
