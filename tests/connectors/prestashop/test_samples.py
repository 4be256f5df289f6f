"""Every published payload of the reference pack, through the client (replayed with
`responses`) and translation, with exact expected values."""

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import responses

from connectors.canonical import Address, Customer, OrderState, Payment
from connectors.errors import DataError, NotFoundError
from connectors.prestashop import translate
from connectors.prestashop.xml import xml_to_wire

from .conftest import BASE, REFERENCE, make_client, sample

PARIS = ZoneInfo("Europe/Paris")
XML = {"content_type": "text/xml;charset=utf-8"}
# Reference data the samples point at (ids of a default install); built by us, not recorded.
CURRENCY_1 = (
    b'<?xml version="1.0" encoding="UTF-8"?><prestashop><currency><id><![CDATA[1]]></id>'
    b"<iso_code><![CDATA[EUR]]></iso_code></currency></prestashop>"
)
COUNTRY_21 = (
    b'<?xml version="1.0" encoding="UTF-8"?><prestashop><country><id><![CDATA[21]]></id>'
    b"<iso_code><![CDATA[US]]></iso_code></country></prestashop>"
)


def ctx(**kw):
    return translate.ShopContext(
        timezone=PARIS,
        currency_iso={1: "EUR"}.__getitem__,
        country_iso={21: "US"}.__getitem__,
        **kw,
    )


def wire(name):
    body = sample(name)
    return json.loads(body) if name.endswith(".json") else xml_to_wire(body)


def fields_of(body: bytes) -> dict:
    data = xml_to_wire(body)
    ((_, record),) = data.items()
    return record


def stub_customer():
    return Customer(email="someone@example.com")


def stub_address():
    return Address(line1="1 rue", city="Lyon", country="FR")


# ------------------------------------------------------------------ reads


@responses.activate
def test_order_xml_becomes_a_complete_canonical_order():
    responses.get(f"{BASE}/orders/5", body=sample("order.xml"), **XML)
    responses.get(f"{BASE}/customers/1", body=sample("customer.xml"), **XML)
    responses.get(f"{BASE}/addresses/4", body=sample("address.xml"), **XML)
    responses.get(f"{BASE}/currencies/1", body=CURRENCY_1, **XML)
    responses.get(f"{BASE}/countries/21", body=COUNTRY_21, **XML)
    client = make_client(output_format="XML")
    order = client.order_document(5)
    assert order.id == "5"
    assert order.reference == "KHWLILZLL"
    assert order.state == "10"
    assert order.canonical_state == OrderState.NEW  # awaiting bank wire
    assert order.shop_id == "1"
    assert order.currency == "EUR"
    assert order.total_products == Decimal("69.51")
    assert order.total_shipping == Decimal("2.00")
    assert order.total_discounts == Decimal("0")
    assert order.total_tax == Decimal("0")
    assert order.total_paid == Decimal("71.51")
    assert order.payment_method == "Bank wire"
    assert order.carrier == "2"
    assert order.placed_at == datetime(2019, 1, 30, 1, 2, 12, tzinfo=PARIS)
    assert order.placed_at.utcoffset().total_seconds() == 3600
    assert order.updated_at == datetime(2019, 1, 30, 1, 2, 13, tzinfo=PARIS)
    assert [
        (ln.line_number, ln.product_id, ln.variant_id, ln.sku, ln.ean) for ln in order.lines
    ] == [
        (1, "1", "1", "demo_1", ""),
        (2, "2", "7", "demo_2", ""),
        (3, "3", "13", "demo_3", ""),
    ]
    assert [ln.unit_price for ln in order.lines] == [Decimal("16.51"), Decimal("27"), Decimal("26")]
    assert order.lines[0].name == "Faded Short Sleeve T-shirts - Color : Orange, Size : S"
    assert order.lines[0].quantity == Decimal("1")
    assert order.customer.email == "pub@prestashop.com"
    assert order.shipping_address == order.billing_address
    assert order.shipping_address.country == "US"
    assert order.raw["secure_key"] == "b44a6d9efd7a0076a0fbce6b15eaf3b1"
    # ISO codes are cached per client: a second order costs no currency/country call.
    client.order_document(5)
    assert sum("/currencies/" in c.request.url for c in responses.calls) == 1
    assert sum("/countries/" in c.request.url for c in responses.calls) == 1


def test_order_json_php81_ints_translate_like_strings():
    record = wire("order.json")["order"]
    assert isinstance(record["id_customer"], int)  # the quirk under test
    order = translate.order_from_wire(
        record,
        ctx(),
        customer=stub_customer(),
        shipping_address=stub_address(),
        billing_address=stub_address(),
    )
    assert order.id == "549085"
    assert order.reference == "FMHGOYBGK"
    assert order.state == "4"
    assert order.canonical_state == OrderState.SHIPPED
    assert order.currency == "EUR"
    assert order.total_products == Decimal("9.78")
    assert order.total_shipping == Decimal("7.08")
    assert order.total_paid == Decimal("20.23")
    assert order.total_tax == Decimal("3.37")
    assert order.payment_method == "Amazon - FR"
    assert order.carrier == "103"
    assert order.placed_at == datetime(2024, 7, 5, 16, 40, 18, tzinfo=PARIS)
    assert order.placed_at.utcoffset().total_seconds() == 7200  # summer time
    (line,) = order.lines
    assert (line.product_id, line.variant_id, line.sku, line.ean) == (
        "52695",
        None,
        "4589504961513",
        "4589504961513",
    )
    assert line.unit_price == Decimal("9.775")
    assert line.unit_price_tax_incl == Decimal("11.73")


@responses.activate
def test_display_full_list_of_a_17_shop():
    responses.get(f"{BASE}/orders", body=sample("order_17.display_full.xml"), **XML)
    client = make_client(output_format="XML")
    (record,) = client.list_records("orders", filters={"id": "[6]"})
    order = translate.order_from_wire(
        record,
        ctx(),
        customer=stub_customer(),
        shipping_address=stub_address(),
        billing_address=stub_address(),
    )
    assert order.reference == "KBHVCMDMO"
    assert order.canonical_state == OrderState.DELIVERED
    assert order.total_tax == Decimal("2.82")
    (line,) = order.lines
    assert (line.product_id, line.variant_id, line.sku, line.ean) == (
        "121",
        "521",
        "734/7",
        "8427917734071",
    )
    # Rounding noise is kept exactly; the ERP rounds (reference §4).
    assert line.unit_price_tax_incl == Decimal("9.999999")
    assert line.raw["product_isbn"] == ""
    assert "display=full" in responses.calls[0].request.url


@responses.activate
def test_display_on_one_id_answers_a_list():
    # `/orders/5?display=[...]` is rendered as a list even for one id (reference §2).
    responses.get(f"{BASE}/orders/1", body=sample("orders_list.display.DERIVED.json"))
    record = make_client().get("orders", 1, display="[id,reference]")
    assert record == {"id": 1, "reference": "XKBKNABJK"}


@responses.activate
def test_list_with_display_fields_xml_and_json_agree():
    responses.get(f"{BASE}/orders", body=sample("orders_list.display.DERIVED.xml"), **XML)
    responses.get(f"{BASE}/orders", body=sample("orders_list.display.DERIVED.json"))
    client = make_client()
    from_xml = client.list_records("orders", display="[id,reference]", limit="0,2")
    from_json = client.list_records("orders", display="[id,reference]", limit="0,2")
    assert [(int(r["id"]), r["reference"]) for r in from_xml] == [
        (1, "XKBKNABJK"),
        (2, "OHSATSERP"),
    ]
    assert [(int(r["id"]), r["reference"]) for r in from_json] == [
        (1, "XKBKNABJK"),
        (2, "OHSATSERP"),
    ]


@responses.activate
def test_list_without_display_gives_ids():
    responses.get(f"{BASE}/orders", body=sample("orders_list.minimal.xml"), **XML)
    rows = make_client().list_records("orders", display=None)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]


@responses.activate
def test_empty_lists_xml_wrapper_and_json_bare_brackets():
    responses.get(f"{BASE}/order_payments", body=sample("order_payments_list.empty.xml"), **XML)
    responses.get(f"{BASE}/order_payments", body="[]")
    responses.get(f"{BASE}/order_payments", body="{}")
    client = make_client()
    assert client.payments_of("KHWLILZLL") == []
    assert client.payments_of("KHWLILZLL") == []  # `[]` instead of {"order_payments": []}
    assert client.payments_of("KHWLILZLL") == []


@responses.activate
def test_stock_list_with_one_displayed_field():
    responses.get(
        f"{BASE}/stock_availables", body=sample("stock_availables_list.display.xml"), **XML
    )
    rows = make_client().list_records(
        "stock_availables",
        filters={"id_product": "[1]", "id_product_attribute": "[1]"},
        display="[quantity]",
    )
    assert rows == [{"quantity": "299"}]


def test_customer_xml():
    customer = translate.customer_from_wire(wire("customer.xml")["customer"], ctx())
    assert (customer.id, customer.email, customer.first_name, customer.last_name) == (
        "1",
        "pub@prestashop.com",
        "John",
        "DOE",
    )
    assert (customer.group, customer.language, customer.is_guest) == ("3", "1", False)
    assert customer.created_at == datetime(2016, 9, 2, 14, 37, 21, tzinfo=PARIS)
    assert customer.updated_at == datetime(2016, 9, 13, 10, 57, 58, tzinfo=PARIS)
    assert customer.raw["associations"] == {"groups": [{"id": "3"}]}


def test_webhook_payload_typed_values_translate_as_a_customer():
    # ps_webhooks sends PHP-typed values: ints, bools, null (reference §5).
    path = REFERENCE / "webhooks" / "prestaalba_ps_webhooks.payload.json"
    if not path.exists():
        pytest.skip("webhook sample not found")
    data = json.loads(path.read_text())["data"]
    customer = translate.customer_from_wire(data, ctx())
    assert (customer.id, customer.email, customer.company) == ("42", "wilson@example.com", "Rolige")
    assert customer.language == ""  # id_lang null
    assert customer.is_guest is False
    assert customer.updated_at == datetime(2025, 8, 20, 5, 50, tzinfo=PARIS)


def test_address_xml():
    address = translate.address_from_wire(wire("address.xml")["address"], ctx())
    assert address.model_dump(exclude={"raw"}) == {
        "id": "4",
        "first_name": "John",
        "last_name": "DOE",
        "company": "My Company",
        "line1": "16, Main street",
        "line2": "2nd floor",
        "line3": "",
        "postcode": "33133",
        "city": "Miami",
        "region": "",
        "country": "US",
        "phone": "0102030405",
        "mobile": "",
        "email": None,
        "vat_number": "",
    }


def test_product_xml_multilanguage_and_ean_zero():
    combination = wire("combination.xml")["combination"]
    product = translate.product_from_wire(
        wire("product.xml")["product"], ctx(), combinations=[combination]
    )
    assert (product.id, product.sku, product.ean) == ("1", "demo_1", "")  # "0" = no EAN
    assert product.name == "Faded Short Sleeves T-shirt"
    assert product.price == Decimal("16.51")
    assert product.active is True
    assert product.weight == Decimal("0")
    assert product.updated_at == datetime(2019, 1, 30, 1, 2, 9, tzinfo=PARIS)
    assert product.description.startswith("<p>Fashion has been creating")
    (variant,) = product.variants
    assert (variant.id, variant.sku, variant.ean, variant.price_impact) == ("1", "", "", 0)
    assert variant.attributes == {"option_values": "1,13"}
    stock_rows = product.raw["associations"]["stock_availables"]
    assert [(r["id"], r["id_product_attribute"]) for r in stock_rows][:2] == [
        ("1", "0"),
        ("8", "1"),
    ]


def test_product_json_two_languages_nulls_and_ints():
    record = wire("product.json")["product"]
    product = translate.product_from_wire(record, ctx(id_lang=2))
    assert (product.id, product.sku, product.ean) == ("59989", "4573102616029", "4573102616029")
    assert (
        product.name == "Maquette Gundam - 017 Wing Gundam Zero Endless Waltz Gunpla RG 1/144 13cm"
    )
    assert product.price == Decimal("24.166667")
    assert product.weight == Decimal("1.5")
    assert product.updated_at == datetime(2024, 7, 5, 19, 1, 1, tzinfo=PARIS)
    assert translate.language_value(record["available_now"], 2) == "Available"
    assert translate.language_value(record["available_now"], 1) == "En Stock"
    assert translate.language_value(record["delivery_in_stock"], 2) == ""  # null value
    assert translate.language_value("Plain string", 2) == "Plain string"  # one language


def test_stock_available_xml():
    as_of = datetime(2024, 1, 1, tzinfo=PARIS)
    level = translate.stock_from_wire(
        wire("stock_available.xml")["stock_available"], sku="demo_1", as_of=as_of
    )
    assert (level.sku, level.product_id, level.variant_id, level.warehouse) == (
        "demo_1",
        "1",
        None,
        "1",
    )
    assert level.quantity == Decimal("1799")


def test_order_carrier_xml_as_shipment():
    shipment = translate.shipment_from_wire(
        wire("order_carrier.xml")["order_carrier"], ctx(), order_reference="KHWLILZLL"
    )
    assert (shipment.id, shipment.tracking_number, shipment.carrier) == ("2", "ABCD", "2")
    assert shipment.shipped_at == datetime(2016, 9, 2, 14, 37, 22, tzinfo=PARIS)


def test_payment_post_body_reads_back_as_a_payment():
    payment = translate.payment_from_wire(
        wire("order_payment.post_request.DERIVED.xml")["order_payment"], ctx()
    )
    assert (payment.order_reference, payment.amount, payment.currency) == (
        "KHWLILZLL",
        Decimal("71.51"),
        "EUR",
    )
    assert (payment.method, payment.transaction_id) == ("Bank wire", "ERP-PAY-000123")
    assert payment.paid_at == datetime(2019, 1, 31, 10, 0, tzinfo=PARIS)


# ------------------------------------------------------------------ writes match the wire


@responses.activate
def test_tracking_number_put_is_the_recorded_request():
    responses.get(f"{BASE}/order_carriers", body=sample("order_carrier.xml"), **XML)
    responses.get(f"{BASE}/order_carriers/2", body=sample("order_carrier.xml"), **XML)
    responses.put(f"{BASE}/order_carriers/2", body=sample("order_carrier.xml"), **XML)
    client = make_client(version="1.6.1.23", send_email=True)
    client.set_tracking_number(2, "xyz")
    put = responses.calls[-1].request
    assert put.method == "PUT"
    assert fields_of(put.body) == fields_of(sample("order_carrier.put_request.xml"))
    assert "sendemail=1" in put.url


@responses.activate
def test_stock_put_is_the_recorded_request():
    responses.get(f"{BASE}/stock_availables", body=sample("stock_available.xml"), **XML)
    responses.get(f"{BASE}/stock_availables/1", body=sample("stock_available.xml"), **XML)
    responses.put(f"{BASE}/stock_availables/1", body=sample("stock_available.xml"), **XML)
    make_client(version="1.6.1.23").set_stock_quantity(1, 0, 0)
    put = responses.calls[-1].request
    assert put.method == "PUT"
    assert fields_of(put.body) == fields_of(sample("stock_available.put_request.xml"))


@responses.activate
def test_state_change_post_is_the_recorded_request():
    responses.get(f"{BASE}/orders/10744", json={"orders": [{"id": 10744, "current_state": "1"}]})
    responses.post(
        f"{BASE}/order_histories", body=sample("order_history.post_request.xml"), status=201, **XML
    )
    client = make_client(id_employee=1, send_email=False)
    created = client.change_order_state(10744, 2)
    post = responses.calls[-1].request
    assert fields_of(post.body) == fields_of(sample("order_history.post_request.xml"))
    assert "sendemail" not in post.url
    assert created["id_order"] == "10744"


@responses.activate
def test_state_change_is_skipped_when_the_order_is_already_there():
    responses.get(f"{BASE}/orders/10744", json={"orders": [{"id": 10744, "current_state": 2}]})
    assert make_client().change_order_state(10744, 2) is None
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_payment_post_matches_the_schema_sample():
    responses.get(f"{BASE}/order_payments", body=sample("order_payments_list.empty.xml"), **XML)
    responses.get(
        f"{BASE}/currencies",
        body=b"<prestashop><currencies>"
        + CURRENCY_1.split(b"<prestashop>")[1].split(b"</prestashop>")[0]
        + b"</currencies></prestashop>",
        **XML,
    )
    responses.post(
        f"{BASE}/order_payments",
        body=sample("order_payment.post_request.DERIVED.xml"),
        status=201,
        **XML,
    )
    payment = Payment(
        id="",
        order_reference="KHWLILZLL",
        amount=Decimal("71.51"),
        currency="EUR",
        method="Bank wire",
        transaction_id="ERP-PAY-000123",
        paid_at=datetime(2019, 1, 31, 9, 0, tzinfo=ZoneInfo("UTC")),  # 10:00 in Paris
    )
    make_client().record_payment(payment)
    ours = fields_of(responses.calls[-1].request.body)
    theirs = fields_of(sample("order_payment.post_request.DERIVED.xml"))
    assert ours == {k: v for k, v in theirs.items() if v != ""}


@responses.activate
def test_error_xml_names_resource_and_message():
    responses.get(f"{BASE}/order_carriers/99", body=sample("order_carrier.xml"), **XML)
    responses.put(f"{BASE}/order_carriers/99", body=sample("error.xml"), status=404, **XML)
    with pytest.raises(NotFoundError) as caught:
        make_client(version="1.7.8.8").update("order_carriers", 99, {"tracking_number": "T"})
    assert "order_carriers" in str(caught.value)
    assert "[92] Invalid ID" in str(caught.value)


@responses.activate
def test_error_json_patch_refused_falls_back_to_read_modify_write():
    # The option says 8.x but the shop is 1.7: PATCH gets 405 code 23 (sample error.json).
    responses.patch(f"{BASE}/order_carriers/2", body=sample("error.json"), status=405)
    responses.get(f"{BASE}/order_carriers/2", body=sample("order_carrier.xml"), **XML)
    responses.put(f"{BASE}/order_carriers/2", body=sample("order_carrier.xml"), **XML)
    client = make_client(version="8.0.0")
    client.update("order_carriers", 2, {"tracking_number": "xyz"})
    assert [c.request.method for c in responses.calls] == ["PATCH", "GET", "PUT"]
    client.update("order_carriers", 2, {"tracking_number": "xyz"})
    assert [c.request.method for c in responses.calls][3:] == ["GET", "PUT"]  # remembered


# ------------------------------------------------------------------ malformed and partial


def _order_json():
    return json.loads(sample("order.json"))["order"]


def _translate(record):
    return translate.order_from_wire(
        record,
        ctx(),
        customer=stub_customer(),
        shipping_address=stub_address(),
        billing_address=stub_address(),
    )


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"total_paid_tax_incl": "12,50"}, "total_paid_tax_incl", "'12,50' is not a number"),
        ({"date_add": "05/07/2024"}, "date_add", "is not a date"),
        ({"current_state": "shipped"}, "current_state", "is not an integer"),
        ({"reference": None}, "reference", "Order is invalid"),
        ({"id_currency": 0}, "currency", "Order is invalid"),
    ],
)
def test_malformed_order_values_name_the_field(change, field, fragment):
    record = {**_order_json(), **change}
    with pytest.raises(DataError) as caught:
        _translate(record)
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_missing_field_is_named():
    record = _order_json()
    del record["date_add"]
    with pytest.raises(DataError) as caught:
        _translate(record)
    assert caught.value.field == "date_add"
    assert "orders 549085: field 'date_add' is missing" in str(caught.value)


def test_bad_order_row_names_the_row_field():
    record = _order_json()
    record["associations"]["order_rows"][0]["product_quantity"] = "one"
    with pytest.raises(DataError) as caught:
        _translate(record)
    assert caught.value.field == "product_quantity"
    assert "order_rows" in str(caught.value)


def test_order_without_rows_is_rejected_with_the_field():
    record = _order_json()
    del record["associations"]  # details deleted: no associations key (reference §6)
    with pytest.raises(DataError) as caught:
        _translate(record)
    assert caught.value.field == "lines"


def test_a_single_row_object_is_coerced_to_a_list():
    record = _order_json()
    record["associations"]["order_rows"] = record["associations"]["order_rows"][0]
    assert len(_translate(record).lines) == 1


def test_customer_with_a_bad_email_names_email():
    record = {**wire("customer.xml")["customer"], "email": "not-an-email"}
    with pytest.raises(DataError) as caught:
        translate.customer_from_wire(record, ctx())
    assert caught.value.field == "email"


@responses.activate
@pytest.mark.parametrize(
    "body",
    [sample_name for sample_name in ("order.json", "order.xml")],
)
def test_truncated_bodies_are_data_errors(body):
    content = sample(body)
    responses.get(f"{BASE}/orders/5", body=content[: len(content) // 2])
    with pytest.raises(DataError) as caught:
        make_client().get("orders", 5)
    assert caught.value.field == "body"
    assert "orders/5" in str(caught.value)


@responses.activate
def test_a_body_without_the_resource_names_what_it_has():
    responses.get(f"{BASE}/orders", json={"customers": []})
    with pytest.raises(DataError) as caught:
        make_client().list_records("orders")
    assert "no 'orders'" in str(caught.value)
    assert "customers" in str(caught.value)


@responses.activate
def test_the_timezone_option_reads_dates_in_the_shop_zone():
    responses.get(f"{BASE}/orders/549085", body=sample("order.json"))
    client = make_client(timezone="America/New_York")
    record = client.get("orders", 549085)
    ctx_ny = translate.ShopContext(timezone=client.timezone)
    when = translate.Reader(record, resource="orders").moment("date_add", ctx_ny.timezone)
    assert when.isoformat() == "2024-07-05T16:40:18-04:00"


def test_an_unknown_timezone_option_is_refused_by_name():
    from connectors.errors import PermanentError

    with pytest.raises(PermanentError) as caught:
        make_client(timezone="Mars/Olympus")
    assert caught.value.field == "timezone"
    assert "Mars/Olympus" in str(caught.value)
