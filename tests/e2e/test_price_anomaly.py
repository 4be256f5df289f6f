"""The price anomaly rule runs in the live flow: the ERP's own price of each line's item is
read (M3 GetItmPrice, TIMS item list price) and an order far from it stops before load."""

import pytest

from integrations.management.commands.demo import drain
from integrations.models import Status
from integrations.services.records import sync_record_retry
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db

PRICE_ONLY = {
    "enabled": True,
    "order_total": False,
    "quantity": False,
    "duplicate": False,
    "price_tolerance": 0.5,
}


def enable_price_rule(integration):
    options = dict(integration.options)
    options["order_to_cash"] = {**options.get("order_to_cash", {}), "anomalies": PRICE_ONLY}
    integration.options = options
    integration.base_currency = "EUR"
    integration.save()


def test_an_order_priced_far_from_m3_is_held_before_load(shop, m3, m3_integration):
    enable_price_rule(m3_integration)
    for item in m3.state.items.values():
        item["SAPR"] = "10000.00"  # the ERP says every item costs 10,000

    record = place_and_sync(shop, m3_integration)

    assert record.status == Status.NEEDS_ATTENTION, record.error_message
    assert record.step == "validate"
    assert "price" in record.error_message.lower()
    assert m3.state.orders == {}


def test_an_order_priced_like_m3_goes_through(shop, m3, m3_integration):
    enable_price_rule(m3_integration)
    record = place_and_sync(shop, m3_integration, lines=[(1, 0, 1)])  # one line: product 1
    assert record.status == Status.NEEDS_ATTENTION  # simulators' prices differ by default

    shop_price = record.payload_in["lines"][0]["unit_price"]
    for item in m3.state.items.values():
        item["SAPR"] = str(shop_price)  # now the ERP agrees with the shop
    sync_record_retry(record=record)
    drain(concurrency=1)

    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED, record.error_message
    assert len(m3.state.orders) == 1
