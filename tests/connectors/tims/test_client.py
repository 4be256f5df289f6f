"""TimsClient against canned payloads (responses): every operation and every error body.

The payloads follow our ASSUMED profile (connectors/tims/README.md); TIMS publishes none.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from connectors.errors import (
    AuthError,
    DataError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.http import ClientOptions
from connectors.tims.client import ConflictError, TimsClient
from connectors.tims.profile import TimsProfile

BASE = "https://tims.example.com/api/v1"
CREDENTIALS = {"client_id": "shopsync", "client_secret": "s3cret-value", "api_key": "key-123456"}

CUSTOMER = {
    "customer_code": "C1001",
    "name": "Acme Fabrication",
    "email": "Orders@Acme.example",
    "phone": "+1-555-100-2000",
    "bill_to": {"ship_to_code": "BILL", "line1": "1 Main St", "city": "Houston", "country": "us"},
    "ship_tos": [{"ship_to_code": "ST1", "line1": "2 Yard Rd", "city": "Houston", "country": "US"}],
    "modified_at": "2026-11-01T10:00:00-06:00",
    "cylinder_deposit_class": "B",
}
ITEM = {
    "item_code": "CYL-AR-300",
    "description": "Argon cylinder 300 cf",
    "uom": "EA",
    "list_price": "89.00",
    "active": True,
    "hazmat": True,
    "modified_at": "2026-11-01T10:00:00Z",
}
STOCK = {
    "item_code": "CYL-AR-300",
    "location_id": "MAIN",
    "on_hand": "12",
    "allocated": "2",
    "available": "10",
    "as_of": "2026-11-24T08:00:00Z",
}
ORDER_IN = {
    "customer_code": "C1001",
    "customer_po": "PS-1",
    "location_id": "MAIN",
    "will_call": True,
    "blanket_po": "BPO-1",
    "override_backorder": True,
    "fees": [{"code": "HAZ", "amount": "7.50"}],
    "lines": [{"line_no": 1, "item_code": "CYL-AR-300", "quantity": "2"}],
}
ORDER_OUT = {**ORDER_IN, "order_number": "SO100001", "status": "open", "tax_total": "14.68"}
SHIPMENT = {
    "shipment_id": "SH1",
    "order_number": "SO100001",
    "customer_po": "PS-1",
    "ship_date": "2026-11-24",
    "carrier": "UPS",
    "tracking_number": "1Z999",
    "lines": [{"line_no": 1, "item_code": "CYL-AR-300", "quantity_shipped": "2"}],
}
INVOICE = {
    "invoice_number": "IN1",
    "order_number": "SO100001",
    "customer_po": "PS-1",
    "invoice_date": "2026-11-25T12:00:00Z",
    "due_date": "2026-12-25",
    "currency": "USD",
    "subtotal": "178.00",
    "tax_total": "14.69",
    "fees_total": "7.50",
    "total": "200.19",
    "balance_due": "200.19",
}
PAYMENT = {
    "payment_id": "PM1",
    "customer_code": "C1001",
    "customer_po": "PS-1",
    "date": "2026-11-26T09:00:00Z",
    "amount": "200.19",
    "method": "card",
    "reference": "PS-PAY-1",
    "applied": [{"invoice_number": "IN1", "amount": "200.19"}],
}


def page(*records, total_pages=1):
    return {"data": list(records), "page": 1, "total_pages": total_pages}


def error(code, message, field=""):
    return {"error": {"code": code, "message": message, "field": field}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            "POST",
            f"{BASE}/oauth/token",
            json={"access_token": "tok-aaaaaaaa", "token_type": "Bearer", "expires_in": 600},
        )
        yield mock


@pytest.fixture
def clock():
    return Clock()


def make_client(clock=None, **profile) -> TimsClient:
    return TimsClient(
        TimsProfile(base_url=BASE, **profile),
        CREDENTIALS,
        options=ClientOptions(safe_retries=1),
        sleep=lambda s: None,
        clock=clock or Clock(),
    )


@pytest.fixture
def client(rsps, clock):
    return make_client(clock)


def bearer():
    return matchers.header_matcher({"Authorization": "Bearer tok-aaaaaaaa"})


# -- every operation -------------------------------------------------------------------------


def test_get_customer_keeps_custom_fields_in_raw(rsps, client):
    rsps.get(f"{BASE}/customers/C1001", json=CUSTOMER, match=[bearer()])
    customer = client.get_customer("C1001")
    assert customer.id == "C1001" and customer.email == "orders@acme.example"
    assert [a.id for a in customer.addresses] == ["BILL", "ST1"]
    assert customer.addresses[0].country == "US"
    assert customer.raw["cylinder_deposit_class"] == "B"
    assert customer.updated_at.utcoffset().total_seconds() == -6 * 3600


def test_customer_code_is_quoted_in_the_path(rsps, client):
    rsps.get(f"{BASE}/customers/A%2FB%20C", json={**CUSTOMER, "customer_code": "A/B C"})
    assert client.get_customer("A/B C").id == "A/B C"


def test_find_customers_by_email_and_list_modified_since(rsps, client):
    rsps.get(
        f"{BASE}/customers",
        json=page(CUSTOMER),
        match=[
            matchers.query_param_matcher(
                {"email": "orders@acme.example", "page": "1", "page_size": "100"}
            )
        ],
    )
    assert [c.id for c in client.find_customers_by_email(" Orders@Acme.example")] == ["C1001"]
    rsps.get(
        f"{BASE}/customers",
        json=page(CUSTOMER, total_pages=2),
        match=[
            matchers.query_param_matcher(
                {"modified_since": "2026-11-01T00:00:00+00:00", "page": "1", "page_size": "100"}
            )
        ],
    )
    rsps.get(
        f"{BASE}/customers",
        json={"data": [{**CUSTOMER, "customer_code": "C1002"}], "total_pages": 2},
        match=[
            matchers.query_param_matcher(
                {"modified_since": "2026-11-01T00:00:00+00:00", "page": "2", "page_size": "100"}
            )
        ],
    )
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert [c.id for c in client.list_customers(modified_since=since)] == ["C1001", "C1002"]


def test_create_and_update_customer(rsps, client):
    rsps.post(
        f"{BASE}/customers",
        json={**CUSTOMER, "customer_code": "C2001"},
        status=201,
        match=[
            matchers.header_matcher({"Idempotency-Key": "cust-1"}),
            matchers.json_params_matcher(
                {"name": "Acme", "email": "a@acme.example", "external_ref": "42"},
                strict_match=False,
            ),
        ],
    )
    created = client.create_customer(
        {"name": "Acme", "email": "a@acme.example", "external_ref": "42"}, idempotency_key="cust-1"
    )
    assert created.id == "C2001"
    rsps.patch(
        f"{BASE}/customers/C2001",
        json={**CUSTOMER, "customer_code": "C2001", "phone": "+1"},
        match=[matchers.json_params_matcher({"phone": "+1"})],
    )
    assert client.update_customer("C2001", {"phone": "+1"}).phone == "+1"


def test_ship_tos(rsps, client):
    ship_to = {"ship_to_code": "ST2", "line1": "3 Dock", "city": "Tulsa", "country": "US"}
    rsps.get(f"{BASE}/customers/C1001/ship-tos", json=page(ship_to))
    assert [a.id for a in client.list_ship_tos("C1001")] == ["ST2"]
    rsps.post(f"{BASE}/customers/C1001/ship-tos", json=ship_to, status=201)
    assert client.create_ship_to("C1001", ship_to, idempotency_key="st").city == "Tulsa"


def test_items_and_inventory(rsps, client):
    rsps.get(f"{BASE}/items", json=page(ITEM))
    [product] = client.list_items()
    assert (product.sku, product.price, product.name) == (
        "CYL-AR-300",
        Decimal("89.00"),
        "Argon cylinder 300 cf",
    )
    assert product.raw["hazmat"] is True
    rsps.get(f"{BASE}/items/CYL-AR-300", json=ITEM)
    assert client.get_item("CYL-AR-300").unit == "EA"
    rsps.get(
        f"{BASE}/inventory",
        json=page(STOCK),
        match=[
            matchers.query_param_matcher({"location_id": "MAIN", "page": "1", "page_size": "100"})
        ],
    )
    [level] = client.list_inventory(location_id="MAIN")
    assert (level.sku, level.warehouse, level.quantity, level.on_hand, level.allocated) == (
        "CYL-AR-300",
        "MAIN",
        Decimal("10"),
        Decimal("12"),
        Decimal("2"),
    )


def test_create_sales_order_looks_up_then_posts_with_a_key(rsps, client):
    rsps.get(
        f"{BASE}/sales-orders",
        json=page(),
        match=[
            matchers.query_param_matcher({"customer_po": "PS-1", "page": "1", "page_size": "100"})
        ],
    )
    rsps.post(
        f"{BASE}/sales-orders",
        json=ORDER_OUT,
        status=201,
        match=[matchers.header_matcher({"Idempotency-Key": "order-1"})],
    )
    result = client.create_sales_order(ORDER_IN, idempotency_key="order-1")
    assert result.created and result.document.order_number == "SO100001"
    sent = json.loads(rsps.calls[-1].request.body)
    assert sent["location_id"] == "MAIN" and sent["will_call"] is True
    assert sent["blanket_po"] == "BPO-1" and sent["override_backorder"] is True
    assert sent["fees"] == [{"code": "HAZ", "description": "", "amount": "7.50"}]
    assert sent["lines"][0]["quantity"] == "2"  # Decimal as a string, never a float
    assert result.document.tax_total == Decimal("14.68")


def test_create_sales_order_found_by_customer_po_is_not_posted(rsps, client):
    rsps.get(f"{BASE}/sales-orders", json=page(ORDER_OUT))
    result = client.create_sales_order(ORDER_IN, idempotency_key="order-1")
    assert not result.created and result.document.order_number == "SO100001"


def test_a_lookup_filter_the_server_ignores_does_not_link_a_wrong_order(rsps, client):
    other = {**ORDER_OUT, "customer_po": "PS-OTHER", "order_number": "SO9"}
    rsps.get(f"{BASE}/sales-orders", json=page(other))
    rsps.post(f"{BASE}/sales-orders", json=ORDER_OUT, status=201)
    assert client.create_sales_order(ORDER_IN, idempotency_key="k").created


def test_409_duplicate_customer_po_returns_the_existing_order(rsps, client):
    rsps.get(f"{BASE}/sales-orders", json=page())
    body = error("duplicate_customer_po", "PS-1 is on SO100001", "customer_po")
    body["error"]["order_number"] = "SO100001"
    rsps.post(f"{BASE}/sales-orders", json=body, status=409)
    rsps.get(f"{BASE}/sales-orders/SO100001", json=ORDER_OUT)
    result = client.create_sales_order(ORDER_IN, idempotency_key="k")
    assert not result.created and result.document.order_number == "SO100001"


def test_409_without_the_order_number_looks_it_up_again(rsps, client):
    rsps.get(f"{BASE}/sales-orders", json=page())
    rsps.post(f"{BASE}/sales-orders", json=error("duplicate", "exists", "customer_po"), status=409)
    rsps.get(f"{BASE}/sales-orders", json=page(ORDER_OUT))
    assert client.create_sales_order(ORDER_IN, idempotency_key="k").created is False


def test_409_on_another_field_is_a_permanent_conflict(rsps, client):
    rsps.get(f"{BASE}/sales-orders", json=page())
    rsps.post(
        f"{BASE}/sales-orders",
        json=error("blanket_po_closed", "blanket PO BPO-1 is closed", "blanket_po"),
        status=409,
    )
    with pytest.raises(ConflictError) as caught:
        client.create_sales_order(ORDER_IN, idempotency_key="k")
    assert caught.value.field == "blanket_po"
    assert "blanket_po: blanket PO BPO-1 is closed" in str(caught.value)


def test_order_payload_is_checked_before_sending(rsps, client):
    with pytest.raises(DataError) as caught:
        client.create_sales_order({**ORDER_IN, "lines": []}, idempotency_key="k")
    assert caught.value.field == "lines"
    with pytest.raises(DataError) as caught:
        client.create_sales_order(
            {**ORDER_IN, "lines": [{"line_no": 1, "item_code": "A", "quantity": "abc"}]},
            idempotency_key="k",
        )
    assert caught.value.field == "lines.0.quantity" and caught.value.value == "'abc'"


def test_get_and_list_sales_orders(rsps, client):
    rsps.get(f"{BASE}/sales-orders/SO100001", json=ORDER_OUT)
    assert client.get_sales_order("SO100001").status == "open"
    rsps.get(f"{BASE}/sales-orders", json=page(ORDER_OUT))
    assert [o.order_number for o in client.list_sales_orders()] == ["SO100001"]


def test_shipments_invoices_payments(rsps, client):
    rsps.get(f"{BASE}/shipments", json=page(SHIPMENT))
    [shipment] = client.list_shipments()
    assert shipment.order_reference == "PS-1" and shipment.erp_order_id == "SO100001"
    assert shipment.tracking_number == "1Z999" and shipment.shipped_at.tzinfo is not None
    assert shipment.lines[0].quantity == Decimal("2")
    rsps.get(f"{BASE}/invoices", json=page(INVOICE))
    [invoice] = client.list_invoices()
    assert invoice.total_tax == Decimal("14.69") and invoice.total_fees == Decimal("7.50")
    assert invoice.total_tax_excl == Decimal("185.50")
    rsps.get(f"{BASE}/invoices/IN1", json=INVOICE)
    assert client.get_invoice("IN1").number == "IN1"
    rsps.get(f"{BASE}/payments", json=page(PAYMENT))
    [payment] = client.list_payments()
    assert payment.invoice_number == "IN1" and payment.transaction_id == "PS-PAY-1"


def test_record_payment_looks_up_the_reference_first(rsps, client):
    rsps.get(
        f"{BASE}/payments",
        json=page(),
        match=[
            matchers.query_param_matcher({"reference": "PS-PAY-1", "page": "1", "page_size": "100"})
        ],
    )
    rsps.post(
        f"{BASE}/payments",
        json=PAYMENT,
        status=201,
        match=[matchers.header_matcher({"Idempotency-Key": "pay-1"})],
    )
    incoming = {k: v for k, v in PAYMENT.items() if k != "payment_id"}
    assert client.record_payment(incoming, idempotency_key="pay-1").created
    rsps.get(f"{BASE}/payments", json=page(PAYMENT))
    assert not client.record_payment(incoming, idempotency_key="pay-1").created


# -- every error body --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, DataError), (404, NotFoundError), (409, ConflictError), (422, DataError)],
)
def test_error_bodies_become_permanent_errors_naming_the_field(rsps, client, status, error_class):
    rsps.get(
        f"{BASE}/items/X",
        json=error("invalid", "item_code X is not valid", "item_code"),
        status=status,
    )
    with pytest.raises(error_class) as caught:
        client.get_item("X")
    assert isinstance(caught.value, PermanentError)
    assert caught.value.field == "item_code" and caught.value.status_code == status
    assert caught.value.details["code"] == "invalid"
    assert f"HTTP {status} invalid: item_code: item_code X is not valid" in str(caught.value)
    assert len(rsps.calls) == 2  # token + one try: never retried


def test_nested_error_fields_are_translated_through_the_alias_map(rsps, clock):
    client = make_client(
        clock, aliases={"Lines": "lines", "ItemNo": "item_code", "PO": "customer_po"}
    )
    rsps.get(f"{BASE}/sales-orders", json={"data": []})
    rsps.post(
        f"{BASE}/sales-orders",
        json=error("unknown_item", "no such item", "Lines[0].ItemNo"),
        status=422,
    )
    with pytest.raises(DataError) as caught:
        client.create_sales_order(ORDER_IN, idempotency_key="k")
    assert caught.value.field == "lines[0].item_code"
    sent = json.loads(rsps.calls[-1].request.body)
    assert "PO" in sent and "ItemNo" in sent["Lines"][0]


def test_an_error_body_that_is_not_ours_still_classifies(rsps, client):
    rsps.get(f"{BASE}/items/X", body="<html>Bad Request</html>", status=400)
    with pytest.raises(PermanentError) as caught:
        client.get_item("X")
    assert caught.value.status_code == 400


def test_429_retry_after_is_transient_and_honoured(rsps, client):
    rsps.get(
        f"{BASE}/items/X",
        json=error("rate_limited", "slow"),
        status=429,
        headers={"Retry-After": "120"},
    )
    with pytest.raises(RateLimitedError) as caught:
        client.get_item("X")
    assert caught.value.retry_after == 120  # too long to sleep here: the pipeline reschedules


def test_5xx_is_retried_for_reads_and_never_for_creates(rsps, client):
    rsps.get(f"{BASE}/items/CYL-AR-300", status=503)
    rsps.get(f"{BASE}/items/CYL-AR-300", json=ITEM)
    assert client.get_item("CYL-AR-300").sku == "CYL-AR-300"
    rsps.get(f"{BASE}/sales-orders", json=page())
    rsps.post(f"{BASE}/sales-orders", status=500)
    with pytest.raises(TransientError) as caught:
        client.create_sales_order(ORDER_IN, idempotency_key="k")
    assert caught.value.status_code == 500
    assert (
        sum(1 for c in rsps.calls if c.request.method == "POST" and "sales" in c.request.url) == 1
    )


def test_timeouts_are_transient(rsps, client):
    rsps.get(f"{BASE}/items/X", body=requests.ReadTimeout("slow"))
    rsps.get(f"{BASE}/items/X", body=requests.ConnectTimeout("slow"))
    with pytest.raises(TransientError, match="timed out"):
        client.get_item("X")


def test_a_list_without_the_items_key_is_refused(rsps, client):
    rsps.get(f"{BASE}/items", json={"rows": []})
    with pytest.raises(TransientError, match="no list under 'data'"):
        list(client.list_items())


def test_a_bad_record_names_the_operation_and_field(rsps, client):
    rsps.get(f"{BASE}/inventory", json=page({**STOCK, "available": "lots"}))
    with pytest.raises(DataError) as caught:
        list(client.list_inventory())
    assert caught.value.field == "available" and "inventory_list" in str(caught.value)


# -- auth and paging modes ---------------------------------------------------------------------


def test_token_is_cached_until_near_expiry(rsps, client, clock):
    rsps.get(f"{BASE}/items/CYL-AR-300", json=ITEM)
    client.get_item("CYL-AR-300")
    client.get_item("CYL-AR-300")
    assert client.token.grants == 1
    token_call = rsps.calls[0].request
    assert "grant_type=client_credentials" in token_call.body
    assert "client_secret=s3cret-value" in token_call.body
    clock.now += 600 - 10  # inside the refresh margin
    client.get_item("CYL-AR-300")
    assert client.token.grants == 2


def test_a_401_renews_the_token_once(rsps, client):
    rsps.get(f"{BASE}/items/X", json=error("unauthorized", "expired"), status=401)
    rsps.get(f"{BASE}/items/X", json=ITEM)
    assert client.get_item("X").sku == "CYL-AR-300"
    assert client.token.grants == 2


def test_refused_client_credentials_are_an_auth_error():
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}/oauth/token", json={"error": "invalid_client"}, status=401)
        with pytest.raises(AuthError, match="invalid_client"):
            make_client().get_item("X")


def test_token_endpoint_down_is_transient():
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}/oauth/token", body="busy", status=503)
        with pytest.raises(TransientError):
            make_client().get_item("X")


def test_api_key_and_basic_modes():
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{BASE}/items/X",
            json=ITEM,
            match=[matchers.header_matcher({"X-Tims-Key": "key-123456"})],
        )
        client = make_client(auth_mode="api_key_header", api_key_header="X-Tims-Key")
        assert client.get_item("X").sku == "CYL-AR-300"
        rsps.get(
            f"{BASE}/items/X",
            json=ITEM,
            match=[matchers.header_matcher({"Authorization": "Basic dTpwdw=="})],
        )
        basic = TimsClient(
            TimsProfile(base_url=BASE, auth_mode="basic"), {"username": "u", "password": "pw"}
        )
        assert basic.get_item("X").sku == "CYL-AR-300"


def test_missing_credentials_name_what_is_missing():
    with pytest.raises(AuthError) as caught:
        TimsClient(TimsProfile(base_url=BASE), {"client_id": "x"})
    assert caught.value.field == "client_secret"
    with pytest.raises(AuthError):
        TimsClient(TimsProfile(base_url=BASE, auth_mode="api_key_header"), {})
    with pytest.raises(DataError, match="base_url"):
        TimsClient(TimsProfile(), CREDENTIALS)


def test_cursor_paging_with_renamed_envelope():
    with responses.RequestsMock() as rsps:
        client = make_client(
            auth_mode="api_key_header",
            paging="cursor",
            items_key="Items",
            next_cursor_key="Next",
            cursor_param="after",
            page_size=1,
        )
        rsps.get(
            f"{BASE}/items",
            json={"Items": [ITEM], "Next": "c2"},
            match=[matchers.query_param_matcher({"page_size": "1"})],
        )
        rsps.get(
            f"{BASE}/items",
            json={"Items": [{**ITEM, "item_code": "B"}], "Next": None},
            match=[matchers.query_param_matcher({"after": "c2", "page_size": "1"})],
        )
        assert [p.sku for p in client.list_items()] == ["CYL-AR-300", "B"]


def test_a_server_repeating_a_cursor_cannot_loop_us():
    with responses.RequestsMock() as rsps:
        client = make_client(auth_mode="api_key_header", paging="cursor")
        rsps.get(f"{BASE}/items", json={"data": [ITEM], "next_cursor": "same"})
        with pytest.raises(DataError, match="paging loops"):
            list(client.list_items())


def test_changed_path_templates(rsps, clock):
    client = make_client(clock, paths={"item_get": "/v8/Item('{item_code}')"})
    rsps.get(f"{BASE}/v8/Item('CYL-AR-300')", json=ITEM)
    assert client.get_item("CYL-AR-300").sku == "CYL-AR-300"


def test_clients_of_one_connection_share_a_grant(rsps, clock):
    rsps.get(f"{BASE}/items/CYL-AR-300", json=ITEM)
    first, second = make_client(clock), make_client(clock)
    first.get_item("CYL-AR-300")
    second.get_item("CYL-AR-300")
    assert first.token.grants + second.token.grants == 1
