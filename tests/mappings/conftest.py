"""A small test catalog, a sample order, and helpers shared by the mapping tests."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.canonical import Address, Customer, Order, OrderLine
from connectors.catalog import Catalog, FieldType, TargetField
from mappings import catalogs, engine

SYSTEM = "tims"  # a system whose real catalog is not needed: these are registered over it

HEAD = Catalog(
    SYSTEM,
    "test.head",
    (
        TargetField("CUNO", FieldType.STRING, max_length=10, required=True),
        TargetField("CUOR", FieldType.STRING, max_length=20),
        TargetField("ORTP", FieldType.STRING, max_length=3, allowed_values=("A01", "B2B", "EXP")),
        TargetField("ORDT", FieldType.DATE),
        TargetField("CUCD", FieldType.STRING, max_length=3),
        TargetField("TOPY", FieldType.NUMBER, max_length=16, decimals=2),
        TargetField("NRLN", FieldType.INTEGER, max_length=3),
        TargetField("GIFT", FieldType.BOOLEAN),
        TargetField("MODL", FieldType.STRING, max_length=3),
        TargetField("WHLO", FieldType.STRING, max_length=3),
        TargetField("CUA1", FieldType.STRING, max_length=36),
        TargetField("CUA2", FieldType.STRING, max_length=36),
        TargetField("PHNO", FieldType.STRING, max_length=16),
        TargetField("CSCD", FieldType.STRING, max_length=3),
        TargetField("YREF", FieldType.STRING, max_length=30),
    ),
    "Test order head",
)
LINE = Catalog(
    SYSTEM,
    "test.line",
    (
        TargetField("ITNO", FieldType.STRING, max_length=15, required=True),
        TargetField("ORQT", FieldType.NUMBER, max_length=15, decimals=6),
        TargetField("SAPR", FieldType.NUMBER, max_length=17, decimals=6),
        TargetField("CUOR", FieldType.STRING, max_length=20),
    ),
    "Test order line",
)


@pytest.fixture(autouse=True)
def test_catalogs():
    catalogs.register(HEAD)
    catalogs.register(LINE)
    engine.clear_cache()
    yield
    catalogs.unregister(HEAD)
    catalogs.unregister(LINE)
    engine.clear_cache()


def make_order(lines: int = 2, **overrides) -> Order:
    address = Address(
        first_name="Ada",
        last_name="Lovelace",
        line1="12 rue des Ingénieurs",
        line2="Bâtiment B",
        postcode="75011",
        city="Paris",
        country="FR",
        phone="01 42 68 53 00",
    )
    data = {
        "id": "123",
        "reference": "XKBKNABJK",
        "state": "2",
        "shop_id": "1",
        "customer": Customer(
            id="7", email="ada@example.com", first_name="Ada", last_name="Lovelace", group="B2C"
        ),
        "billing_address": address,
        "shipping_address": address,
        "lines": [
            OrderLine(
                line_number=n,
                sku=f"SKU-{n}",
                name=f"Product {n}",
                quantity=Decimal(n),
                unit_price=Decimal("12.50"),
            )
            for n in range(1, lines + 1)
        ],
        "currency": "EUR",
        "total_products": Decimal("25.00"),
        "total_paid": Decimal("30.00"),
        "payment_method": "ps_wirepayment",
        "carrier": "Colissimo",
        "placed_at": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "raw": {"id_shop_group": "1", "gift": "1"},
    }
    data.update(overrides)
    return Order(**data)


def head_definition(fields, rules=(), name="test head") -> dict:
    return {
        "name": name,
        "entity": "order_header",
        "target_system": SYSTEM,
        "operation": "test.head",
        "fields": list(fields),
        "rules": list(rules),
    }
