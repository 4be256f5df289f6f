"""Anomaly holds before load: each rule, its options, history from stored records, the demo."""

from decimal import Decimal

import pytest

from connectors.errors import DataError, PermanentError
from integrations import anomalies
from integrations.anomalies import anomalies_check, assistant_demo_seed
from integrations.models import Status, SyncRecord
from integrations.services.stock import InventoryOptions, Plan
from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.mappings.conftest import make_order

pytestmark = pytest.mark.django_db

ON = {"order_to_cash": {"anomalies": {"enabled": True}}}


def order(n: int, *, total="60.00", quantity="1", sku="SKU-1", price="50.00", email=None, **kw):
    return {
        "id": str(n),
        "reference": f"REF{n:04d}",
        "shop_id": "1",
        "currency": "EUR",
        "customer": {"email": email or f"c{n}@example.com"},
        "lines": [{"line_number": 1, "sku": sku, "quantity": quantity, "unit_price": price}],
        "total_paid": total,
        "placed_at": kw.pop("placed_at", f"2026-11-{1 + n % 20:02d}T10:00:00+00:00"),
        **kw,
    }


def seed_history(integration, count=30):
    for n in range(1, count + 1):
        SyncRecordFactory(
            integration=integration,
            flow="order_to_cash",
            source_id=str(n),
            status=Status.SUCCEEDED,
            payload_in=order(n, total=f"{50 + n % 20}.00", quantity=str(1 + n % 3)),
        )


@pytest.fixture
def integration():
    integration = IntegrationFactory(options=ON)
    seed_history(integration)
    return integration


def held(integration, document, **kwargs) -> DataError:
    with pytest.raises(DataError) as caught:
        anomalies_check(integration=integration, order=document, **kwargs)
    return caught.value


def test_an_ordinary_order_passes_and_the_report_says_what_ran(integration):
    report = anomalies_check(integration=integration, order=order(100, total="61.00"))
    assert set(report.checked) == {"duplicate", "quantity", "order_total"}
    assert "no ERP price" in report.skipped["price"]


def test_off_unless_enabled():
    integration = IntegrationFactory(options={})
    seed_history(integration)
    report = anomalies_check(integration=integration, order=order(100, total="99999.00"))
    assert report.checked == [] and "off" in report.skipped["all"]


def test_total_far_outside_the_shops_history_is_held(integration):
    error = held(integration, order(100, total="9800.00"))
    assert error.field == "total_paid" and error.value == "9800.00"
    assert error.details["anomaly"] == "order_total"
    assert "robust z" in error.message and "Resolution" in error.message


def test_history_is_per_shop(integration):
    other_shop = order(100, total="9800.00", shop_id="2")
    report = anomalies_check(integration=integration, order=other_shop)
    assert "order_total" not in report.checked
    assert "only 0 past orders of shop 2" in report.skipped["order_total"]


def test_a_zero_total_is_held(integration):
    assert held(integration, order(100, total="0.00")).details["anomaly"] == "order_total"


def test_quantity_far_outside_the_products_history_is_held(integration):
    error = held(integration, order(100, quantity="400", total="65.00"))
    assert error.field == "lines.1.quantity" and error.value == "400"
    assert error.details["anomaly"] == "quantity" and error.details["basis"] == "product"


def test_price_far_from_the_erp_price_is_held(integration):
    document = order(100, price="5.00", total="60.00")
    error = held(integration, document, erp_prices={"SKU-1": Decimal("50.00")})
    assert error.field == "lines.1.unit_price" and error.details["anomaly"] == "price"
    assert "90%" in error.message


def test_price_known_on_the_record_raw(integration):
    document = order(100, price="150.00", total="60.00")
    document["lines"][0]["raw"] = {"erp_price": "50.00"}
    assert held(integration, document).details["anomaly"] == "price"
    close = order(101, price="48.00", total="60.00", raw={"erp_prices": {"SKU-1": "50"}})
    assert "price" in anomalies_check(integration=integration, order=close).checked


def test_price_skipped_in_another_currency(integration):
    document = order(100, price="5.00", total="60.00", currency="CHF")
    report = anomalies_check(integration=integration, order=document, erp_prices={"SKU-1": "50"})
    assert "not the ERP's EUR" in report.skipped["price"]


def test_duplicate_order_within_the_window_is_held(integration):
    first = order(200, email="same@example.com", placed_at="2026-11-21T10:00:00+00:00")
    SyncRecordFactory(
        integration=integration, flow="order_to_cash", source_id="200", payload_in=first
    )
    again = order(201, email="same@example.com", placed_at="2026-11-21T10:07:00+00:00")
    error = held(integration, again)
    assert error.details == {"anomaly": "duplicate", "duplicate_of": "200"}
    assert "7 minutes apart" in error.message
    later = order(202, email="same@example.com", placed_at="2026-11-21T12:00:00+00:00")
    assert "duplicate" in anomalies_check(integration=integration, order=later).checked


def test_a_retry_of_the_same_order_is_not_its_own_duplicate(integration):
    document = order(200, email="same@example.com")
    SyncRecordFactory(
        integration=integration, flow="order_to_cash", source_id="200", payload_in=document
    )
    assert "duplicate" in anomalies_check(integration=integration, order=document).checked


@pytest.mark.parametrize(
    ("rule", "document"),
    [
        ("order_total", order(100, total="9800.00")),
        ("quantity", order(100, quantity="400")),
    ],
)
def test_each_rule_can_be_turned_off(rule, document):
    integration = IntegrationFactory(
        options={"order_to_cash": {"anomalies": {"enabled": True, rule: False}}}
    )
    seed_history(integration)
    report = anomalies_check(integration=integration, order=document)
    assert rule not in report.checked and "turned off" in report.skipped[rule]


def test_reviewed_references_are_let_through(integration):
    integration.options = {"order_to_cash": {"anomalies": {"enabled": True, "allow": ["ref0100"]}}}
    report = anomalies_check(integration=integration, order=order(100, total="9800.00"))
    assert "REF0100" in report.skipped["all"]


def test_thresholds_are_options(integration):
    integration.options = {"order_to_cash": {"anomalies": {"enabled": True, "z_threshold": 50}}}
    assert (
        "order_total"
        in anomalies_check(integration=integration, order=order(100, total="9800.00")).checked
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"enabled": True, "z_treshold": 3}, "options.order_to_cash.anomalies.z_treshold"),
        ({"enabled": True, "z_threshold": "high"}, "options.order_to_cash.anomalies.z_threshold"),
        (
            {"enabled": True, "duplicate_minutes": 0},
            "options.order_to_cash.anomalies.duplicate_minutes",
        ),
        (["enabled"], "options.order_to_cash.anomalies"),
    ],
)
def test_bad_options_name_the_option(options, field):
    integration = IntegrationFactory(options={"order_to_cash": {"anomalies": options}})
    with pytest.raises(PermanentError) as caught:
        anomalies_check(integration=integration, order=order(1))
    assert caught.value.field == field


def test_too_little_history_is_said(db):
    integration = IntegrationFactory(options=ON)
    report = anomalies_check(integration=integration, order=order(1, total="9800.00"))
    assert "only 0 past orders" in report.skipped["order_total"]
    assert "past lines" in report.skipped["quantity"]


def test_a_canonical_order_is_accepted(integration):
    document = make_order(total_paid=Decimal("9800.00"))
    with pytest.raises(DataError, match="order_total"):
        anomalies_check(integration=integration, order=document)


def test_held_records_do_not_feed_the_statistics(integration):
    for n in range(300, 340):
        SyncRecordFactory(
            integration=integration,
            flow="order_to_cash",
            source_id=str(n),
            status=Status.NEEDS_ATTENTION,
            payload_in=order(n, total="9800.00"),
        )
    assert held(integration, order(400, total="9800.00")).details["anomaly"] == "order_total"


def test_stock_feed_guard_is_the_inventory_flows():
    options = InventoryOptions.of(IntegrationFactory.build(options={}))
    assert anomalies.stock_feed_trips(plan=Plan(zeroed=80), catalogue_size=100, options=options)
    assert not anomalies.stock_feed_trips(plan=Plan(zeroed=3), catalogue_size=100, options=options)


def test_assistant_demo_seed_shows_a_suggestion_and_a_held_order():
    integration = IntegrationFactory()
    result = assistant_demo_seed(integration=integration)
    assert result["suggestion"].target_field == "CUOR"
    assert result["suggestion"].source == "reference"
    record = SyncRecord.objects.get(pk=result["held_record"])
    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "total_paid" and "anomaly hold" in record.error_message
    again = assistant_demo_seed(integration=integration)
    assert again["held_record"] == record.pk and again["mapping_set"] == result["mapping_set"]
