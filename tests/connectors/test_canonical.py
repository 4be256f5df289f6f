from datetime import datetime
from decimal import Decimal

import pytest

from connectors.canonical import Order, OrderLine, StockLevel, parse_document
from connectors.errors import DataError


def order_data(**overrides):
    address = {"line1": "1 rue de la Paix", "city": "Paris", "country": "FR", "postcode": "75002"}
    data = {
        "id": "5",
        "reference": "XKBKNABJK",
        "state": "2",
        "customer": {"email": " Pub@Prestashop.com ", "first_name": "John", "last_name": "Doe"},
        "billing_address": address,
        "shipping_address": address,
        "lines": [
            {"line_number": 1, "sku": "demo_1", "quantity": "2", "unit_price": "16.51"},
        ],
        "currency": "EUR",
        "total_products": "33.02",
        "total_paid": "41.42",
        "placed_at": "2026-03-01T10:00:00+01:00",
        "raw": {"id_cart": "5", "my_custom_field": "gift"},
    }
    data.update(overrides)
    return data


def test_a_valid_order_parses_with_decimals_and_aware_dates():
    order = parse_document(Order, order_data())
    assert order.lines[0].unit_price == Decimal("16.51")
    assert order.total_paid == Decimal("41.42")
    assert order.placed_at.utcoffset().total_seconds() == 3600
    assert order.customer.email == "pub@prestashop.com"
    assert order.raw["my_custom_field"] == "gift"
    assert order.shipping_address.country == "FR"


def test_floats_keep_their_printed_value():
    line = OrderLine(line_number=1, quantity=0.1, unit_price=19.99)
    assert line.unit_price == Decimal("19.99")


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"currency": "EURO"}, "currency", "'EURO'"),
        ({"placed_at": "2026-03-01T10:00:00"}, "placed_at", "'2026-03-01T10:00:00'"),
        ({"lines": []}, "lines", "[]"),
        ({"total_paid": "12,50"}, "total_paid", "'12,50'"),
        ({"total_paid": "NaN"}, "total_paid", "'NaN'"),
    ],
)
def test_invalid_values_name_the_field_and_the_value(overrides, field, value):
    with pytest.raises(DataError) as caught:
        parse_document(Order, order_data(**overrides))
    assert caught.value.field == field
    assert caught.value.value == value
    assert field in str(caught.value)


def test_nested_errors_name_the_full_path():
    data = order_data()
    data["lines"].append({"line_number": 2, "sku": "AB-9", "quantity": "-1", "unit_price": "1"})
    data["shipping_address"] = {**data["shipping_address"], "country": "XX"}
    with pytest.raises(DataError) as caught:
        parse_document(Order, data)
    message = str(caught.value)
    assert "lines.1.quantity: value '-1'" in message
    assert "shipping_address.country: value 'XX'" in message


def test_missing_fields_are_named():
    data = order_data()
    del data["reference"]
    with pytest.raises(DataError, match="reference: missing"):
        parse_document(Order, data)


def test_unknown_fields_are_refused_so_typos_do_not_vanish():
    with pytest.raises(DataError, match="totl_paid"):
        parse_document(Order, order_data(totl_paid="1"))


def test_stock_level_round_trips_through_json():
    level = StockLevel(
        sku="A", quantity="5", as_of=datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    )
    again = StockLevel.model_validate_json(level.model_dump_json())
    assert again == level
