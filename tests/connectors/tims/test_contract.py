"""One contract suite, three backends (conftest.py): simulator through `responses`, over real
HTTP, and over real HTTP with every path, name, paging and auth setting changed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.canonical import Customer, Invoice, Payment, Product, Shipment, StockLevel
from connectors.errors import (
    AuthError,
    DataError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from connectors.tims.client import TimsClient
from connectors.tims.profile import Operation
from connectors.tims.records import OrderStatus, SalesOrder

ORDER = {
    "customer_code": "C1001",
    "customer_po": "PS-000123",
    "location_id": "EAST",
    "will_call": False,
    "blanket_po": "BPO-77",
    "override_backorder": True,
    "ship_to_code": "ST1",
    "ship_via": "UPS",
    "currency": "USD",
    "freight": "12.50",
    "fees": [{"code": "DLV", "description": "Delivery", "amount": "4.00"}],
    "lines": [
        {"line_no": 1, "item_code": "CYL-AR-300", "quantity": "2", "unit_price": "80.00"},
        {"line_no": 2, "item_code": "GLV-TIG-L", "quantity": "3"},
    ],
}


def test_customers_by_code_and_email(tims):
    customer = tims.client.get_customer("C1002")
    assert isinstance(customer, Customer)
    assert customer.id == "C1002" and customer.company == "Bluewater Welding"
    assert customer.addresses[0].country == "US"
    found = tims.client.find_customers_by_email("BUYER@bluewater.example ")
    assert [c.id for c in found] == ["C1002"]
    assert tims.client.find_customers_by_email("nobody@example.com") == []


def test_customer_list_pages_through_everything(tims):
    codes = [c.id for c in tims.client.list_customers()]
    assert codes == sorted(tims.app.state.customers)


def test_customer_create_and_update(tims):
    created = tims.client.create_customer(
        {"name": "New Shop Buyer", "email": "new@buyer.example", "external_ref": "ps-42"},
        idempotency_key="cust-ps-42",
    )
    assert created.id and created.email == "new@buyer.example"
    updated = tims.client.update_customer(created.id, {"phone": "+1-555-000-1111"})
    assert updated.phone == "+1-555-000-1111"
    assert tims.app.state.customers[created.id]["external_ref"] == "ps-42"


def test_unknown_customer_is_not_found_naming_the_field(tims):
    with pytest.raises(NotFoundError) as caught:
        tims.client.get_customer("NOPE")
    assert caught.value.field == "customer_code"
    assert caught.value.status_code == 404


def test_ship_tos(tims):
    before = tims.client.list_ship_tos("C1003")
    added = tims.client.create_ship_to(
        "C1003",
        {"name": "Yard 9", "line1": "9 Dock St", "city": "Dayton", "country": "US"},
        idempotency_key="st-1",
    )
    after = tims.client.list_ship_tos("C1003")
    assert len(after) == len(before) + 1
    assert added.line1 == "9 Dock St" and added.id


def test_items_and_inventory(tims):
    items = list(tims.client.list_items())
    assert len(items) == 10 and all(isinstance(i, Product) for i in items)
    item = tims.client.get_item("WIRE-ER70S6-33")
    assert item.price == Decimal("118.40") and item.unit == "SP"
    with pytest.raises(NotFoundError) as caught:
        tims.client.get_item("NOPE")
    assert caught.value.field == "item_code"
    east = list(tims.client.list_inventory(location_id="EAST"))
    assert len(east) == 10 and all(isinstance(s, StockLevel) for s in east)
    assert {s.warehouse for s in east} == {"EAST"}
    row = tims.app.state.stock[("CYL-AR-300", "EAST")]
    level = next(s for s in east if s.sku == "CYL-AR-300")
    assert level.quantity == Decimal(row["available"])


def test_create_order_looks_up_first_and_sends_an_idempotency_key(tims):
    result = tims.client.create_sales_order(ORDER, idempotency_key="order-ps-123")
    assert result.created
    order = result.document
    assert isinstance(order, SalesOrder)
    assert order.order_number and order.status is OrderStatus.OPEN
    assert order.location_id == "EAST" and order.blanket_po == "BPO-77"
    assert order.override_backorder is True and order.will_call is False
    assert order.fees[0].amount == Decimal("4.00")
    assert order.lines[1].unit_price == Decimal("19.99")  # list price when none is sent
    posts = tims.app.requests_to(Operation.SALES_ORDER_CREATE)
    assert len(posts) == 1
    header = tims.profile.idempotency_header.lower()
    assert posts[0].headers[header] == "order-ps-123"
    lookups = tims.app.requests_to(Operation.SALES_ORDER_LIST)
    assert lookups and tims.app.log.index(lookups[0]) < tims.app.log.index(posts[0])


def test_create_order_twice_gives_one_order(tims):
    first = tims.client.create_sales_order(ORDER, idempotency_key="k-1")
    second = tims.client.create_sales_order(ORDER, idempotency_key="k-2")
    assert not second.created
    assert second.document.order_number == first.document.order_number
    assert len(tims.app.state.orders) == 1
    assert len(tims.app.requests_to(Operation.SALES_ORDER_CREATE)) == 1


def test_duplicate_customer_po_409_links_to_the_existing_order(tims, monkeypatch):
    existing = tims.client.create_sales_order(ORDER, idempotency_key="k-1").document
    # Another worker's order landed between our look-up and our POST.
    monkeypatch.setattr(tims.client, "find_sales_order_by_customer_po", lambda po: None)
    again = tims.client.create_sales_order(ORDER, idempotency_key="k-2")
    assert not again.created
    assert again.document.order_number == existing.order_number
    assert len(tims.app.state.orders) == 1


def test_order_validation_names_the_field(tims):
    bad_item = {**ORDER, "lines": [{"line_no": 1, "item_code": "NOPE", "quantity": "1"}]}
    with pytest.raises(DataError) as caught:
        tims.client.create_sales_order(bad_item, idempotency_key="k-bad")
    assert caught.value.field == "lines[0].item_code"
    assert caught.value.status_code == 422
    assert "NOPE" in str(caught.value)
    with pytest.raises(DataError) as caught:
        tims.client.create_sales_order({**ORDER, "customer_code": "ZZZ"}, idempotency_key="k2")
    assert caught.value.field == "customer_code"
    with pytest.raises(DataError) as caught:
        tims.client.create_sales_order({**ORDER, "location_id": "MOON"}, idempotency_key="k3")
    assert caught.value.field == "location_id"
    assert tims.app.state.orders == {}


def test_order_life_cycle_shipment_invoice_payment(tims):
    order = tims.client.create_sales_order(ORDER, idempotency_key="k").document
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert list(tims.client.list_shipments()) == []
    tims.app.advance(2 * 60 + 1)  # released, then shipped
    shipments = list(tims.client.list_shipments(modified_since=since))
    assert len(shipments) == 1 and isinstance(shipments[0], Shipment)
    assert shipments[0].order_reference == "PS-000123"
    assert shipments[0].erp_order_id == order.order_number
    assert shipments[0].tracking_number.startswith("1Z")
    assert [(line.sku, line.quantity) for line in shipments[0].lines] == [
        ("CYL-AR-300", Decimal("2")),
        ("GLV-TIG-L", Decimal("3")),
    ]
    assert tims.client.get_sales_order(order.order_number).status is OrderStatus.SHIPPED
    tims.app.advance(60)  # invoiced
    [invoice] = list(tims.client.list_invoices())
    assert isinstance(invoice, Invoice) and invoice.order_reference == "PS-000123"
    # delivery 4.00 + hazmat 7.50 on the argon line: fees, never tax
    assert invoice.total_fees == Decimal("11.50")
    subtotal = Decimal("160.00") + Decimal("59.97") + Decimal("12.50")
    assert invoice.total_tax == (subtotal * Decimal("0.0825")).quantize(Decimal("0.01"))
    assert invoice.total == subtotal + invoice.total_fees + invoice.total_tax
    assert invoice.total_tax_excl == invoice.total - invoice.total_tax
    assert tims.client.get_invoice(invoice.number).number == invoice.number
    tims.app.advance(60)  # paid
    [payment] = list(tims.client.list_payments())
    assert isinstance(payment, Payment) and payment.amount == invoice.total
    assert payment.invoice_number == invoice.number
    assert tims.client.get_sales_order(order.order_number).status is OrderStatus.CLOSED
    modified = list(tims.client.list_sales_orders(modified_since=since))
    assert [o.order_number for o in modified] == [order.order_number]
    future = datetime.now(UTC) + timedelta(days=30)
    assert list(tims.client.list_sales_orders(modified_since=future)) == []


def test_shop_prepayment_is_recorded_once_and_settles_the_invoice(tims):
    tims.client.create_sales_order(ORDER, idempotency_key="k")
    payment = {
        "customer_code": "C1001",
        "customer_po": "PS-000123",
        "date": "2026-11-20T10:00:00+00:00",
        "amount": "500.00",
        "method": "card",
        "reference": "PS-PAY-9",
    }
    first = tims.client.record_payment(payment, idempotency_key="pay-9")
    second = tims.client.record_payment(payment, idempotency_key="pay-9b")
    assert first.created and not second.created
    assert first.document.transaction_id == "PS-PAY-9"
    assert second.document.id == first.document.id
    assert len(tims.app.state.payments) == 1
    tims.app.advance(3 * 60 + 1)
    [invoice] = tims.app.state.invoices.values()
    assert invoice["status"] == "paid" and invoice["balance_due"] == "0.00"


def test_payment_validation(tims):
    with pytest.raises(DataError) as caught:
        tims.client.record_payment(
            {"customer_code": "NOPE", "date": "2026-11-20", "amount": "5"}, idempotency_key="p"
        )
    assert caught.value.field == "customer_code"


def test_rate_limit_is_retried_when_short_and_raised_when_persistent(tims):
    tims.app.inject("rate_limit", retry_after=0)
    assert tims.client.get_item("CYL-CO2-50").id == "CYL-CO2-50"
    tims.app.inject("rate_limit", retry_after=30)
    with pytest.raises(RateLimitedError) as caught:
        tims.client.get_item("CYL-CO2-50")
    assert caught.value.retry_after == 30


def test_server_error_on_create_is_transient_and_not_retried(tims):
    tims.app.inject("status", status=503, path="ales", method="GET")
    tims.app.inject("status", status=502, path="ales", method="POST")
    with pytest.raises(TransientError) as caught:
        tims.client.create_sales_order(ORDER, idempotency_key="k")
    # the look-up (GET) was retried past the 503; the POST got the 502 and was not retried
    assert caught.value.status_code == 502
    assert len(tims.app.requests_to(Operation.SALES_ORDER_LIST)) == 2
    assert len(tims.app.requests_to(Operation.SALES_ORDER_CREATE)) == 1
    assert tims.app.state.orders == {}


def test_timeout_on_create_then_retry_links_to_the_order_the_server_made(tims):
    # The POST answers too late, but the server did create the order (a crash between the
    # ERP's "created" and our commit looks the same to us).
    tims.app.inject("delay", delay=1.0, path="ales", method="POST")
    with pytest.raises(TransientError):
        tims.client.create_sales_order(ORDER, idempotency_key="k")
    assert len(tims.app.state.orders) == 1
    assert len(tims.app.requests_to(Operation.SALES_ORDER_CREATE)) == 1  # not retried
    again = tims.client.create_sales_order(ORDER, idempotency_key="k")
    assert not again.created and len(tims.app.state.orders) == 1


def test_dropped_connection_and_malformed_body_are_transient_and_gets_retried(tims):
    tims.app.inject("drop")
    tims.app.inject("malformed")
    assert tims.client.get_item("NOZ-MIG-12").id == "NOZ-MIG-12"
    tims.app.inject("drop", count=3)
    with pytest.raises(TransientError):
        tims.client.get_item("NOZ-MIG-12")


def test_wrong_credentials_are_an_auth_error(tims):
    credentials = {
        **tims.app.credentials.as_dict(),
        "client_secret": "wrong-secret",
        "api_key": "wrong-key",
    }
    client = TimsClient(tims.client.profile, credentials, options=tims.client.options)
    with pytest.raises(AuthError):
        client.get_item("CYL-CO2-50")
