from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.canonical import Order, OrderState
from connectors.errors import DataError
from connectors.infor.catalog import check_input
from connectors.infor.settings import M3Settings
from connectors.infor.translate import (
    available_quantity,
    balances_to_stock,
    delivery_to_shipment,
    invoice_from_m3,
    item_to_product,
    order_state,
    order_to_batch,
)

ADDRESS = {
    "first_name": "Jane",
    "last_name": "Doe",
    "line1": "1 Main Street",
    "city": "Paris",
    "postcode": "75001",
    "country": "FR",
    "phone": "0102030405",
}


def order(**overrides):
    data = {
        "id": "123",
        "reference": "PS-000123",
        "state": "2",
        "customer": {"email": "jane@example.com", "first_name": "Jane", "last_name": "Doe"},
        "billing_address": ADDRESS,
        "shipping_address": ADDRESS,
        "lines": [
            {"line_number": 1, "sku": "PS-1001", "quantity": "2", "unit_price": "12.50"},
            {"line_number": 2, "sku": "PS-1002", "quantity": "1", "unit_price": "5"},
        ],
        "currency": "EUR",
        "total_products": "30",
        "total_paid": "36",
        "placed_at": datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        "note": "Please ring twice. " * 5,
        **overrides,
    }
    return Order.model_validate(data)


def test_order_becomes_a_valid_batch_order_as_in_the_flow_sample():
    settings = M3Settings(
        order_type="WEB", facility="A01", warehouse="100", invoice_address_type="3"
    )
    batch = order_to_batch(order(), cuno="WEB0001", settings=settings)
    assert batch.head == {
        "CUNO": "WEB0001",
        "CUOR": "PS-000123",
        "ORTP": "WEB",
        "FACI": "A01",
        "WHLO": "100",
        "ORDT": date(2024, 1, 15),
        "CUCD": "EUR",
    }
    assert check_input("OIS100MI", "AddBatchHead", batch.head)["ORDT"] == "20240115"
    assert [(line["ITNO"], line["ORQT"], line["SAPR"], line["CUPO"]) for line in batch.lines] == [
        ("PS-1001", Decimal("2"), Decimal("12.50"), 1),
        ("PS-1002", Decimal("1"), Decimal("5"), 2),
    ]
    rendered = check_input("OIS100MI", "AddBatchLine", {**batch.lines[0], "ORNO": "1"})
    assert (rendered["ORQT"], rendered["SAPR"]) == ("2", "12.5")
    delivery, invoice = batch.addresses
    assert (delivery["ADRT"], delivery["CUNM"], delivery["PONO"]) == ("1", "Jane Doe", "75001")
    assert invoice["ADRT"] == "3"
    for address in batch.addresses:
        check_input("OIS100MI", "AddBatchAddress", {**address, "ORNO": "1"})
    assert all(len(t["PARM"]) <= 60 for t in batch.texts) and len(batch.texts) == 2
    assert "".join(t["PARM"] for t in batch.texts) == " ".join(order().note.split())


def test_a_line_without_item_number_names_the_line():
    with pytest.raises(DataError) as caught:
        order_to_batch(order(), cuno="C", settings=M3Settings(), item_of=lambda line: "")
    assert caught.value.field == "lines.1.sku"


def test_available_quantity_is_a_setting():
    row = {
        "ITNO": "A",
        "WHLO": "100",
        "STQT": Decimal("120"),
        "ALQT": Decimal("15"),
        "AV01": Decimal("100"),
    }
    assert available_quantity(row, field="AV01") == 100
    assert available_quantity(row, field="STQT-ALQT") == 105
    with pytest.raises(DataError, match="has no AVAL"):
        available_quantity(row, field="AVAL")
    [level] = balances_to_stock([{**row, "AV01": Decimal("-3")}], available_field="AV01")
    assert level.quantity == 0  # never publish negative stock


def test_delivery_invoice_and_item_translate():
    shipment = delivery_to_shipment(
        {
            "head": {"DLIX": Decimal("5001"), "MODL": "PST", "TRDT": date(2024, 1, 16)},
            "lines": [{"ITNO": "PS-1001", "TRQT": Decimal("2")}],
            "tracking_number": "1Z999",
        },
        order_reference="PS-000123",
        erp_order_id="0000123456",
    )
    assert (shipment.id, shipment.tracking_number, shipment.carrier) == ("5001", "1Z999", "PST")
    assert shipment.shipped_at == datetime(2024, 1, 16, tzinfo=UTC)
    invoice = invoice_from_m3(
        {
            "IVNO": Decimal("7001"),
            "IVDT": date(2024, 1, 17),
            "AMT1": Decimal("36.00"),
            "AMT2": Decimal("30.00"),
            "CUCD": "EUR",
            "DUDT": date(2024, 2, 16),
        },
        order_reference="PS-000123",
        erp_order_id="0000123456",
    )
    assert (invoice.number, invoice.total, invoice.total_tax) == (
        "7001",
        Decimal("36.00"),
        Decimal("6.00"),
    )
    product = item_to_product(
        {
            "ITNO": "PS-1001",
            "ITDS": "Mug",
            "STAT": "20",
            "UNMS": "EA",
            "NEWE": Decimal("0.4"),
            "LMDT": date(2024, 1, 15),
        },
        price={"SAPR": Decimal("12.5")},
    )
    assert (product.sku, product.price, product.active) == ("PS-1001", Decimal("12.5"), True)
    assert product.raw["SAPR"] == "12.5"


@pytest.mark.parametrize(
    ("orsl", "orst", "state"),
    [
        ("22", "22", OrderState.PROCESSING),
        ("33", "44", OrderState.PROCESSING),
        ("66", "66", OrderState.SHIPPED),
        ("26", "66", OrderState.PROCESSING),  # partly delivered
        ("77", "77", OrderState.INVOICED),
        ("99", "99", OrderState.CANCELLED),
        ("", "", None),
    ],
)
def test_order_state_from_line_status_range(orsl, orst, state):
    assert order_state({"ORSL": orsl, "ORST": orst}) is state
