"""XML in and out: defusedxml parsing, safe building, read-modify-write merging."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.errors import DataError
from connectors.prestashop import catalog, translate
from connectors.prestashop.client import DateKeysetPaginator, api_root, parse_version
from connectors.prestashop.xml import build, merge_into, xml_to_wire

from .conftest import sample


def test_build_escapes_and_never_pretty_prints():
    body = build(
        "order_payment",
        {"transaction_id": "A&B <x>", "amount": Decimal("1E+1"), "valid": True, "note": None},
    )
    assert b"<transaction_id>A&amp;B &lt;x&gt;</transaction_id>" in body
    assert b"<amount>10</amount>" in body
    assert b"<valid>1</valid><note />" in body
    assert b"\n" not in body.split(b"?>", 1)[1].strip()
    assert xml_to_wire(body)["order_payment"]["transaction_id"] == "A&B <x>"


def test_build_multilanguage_and_associations():
    body = build(
        "product", {"name": {1: "Mug", 2: "Tasse"}, "associations": {"categories": [{"id": 2}]}}
    )
    record = xml_to_wire(body)["product"]
    assert record["name"] == [{"id": "1", "value": "Mug"}, {"id": "2", "value": "Tasse"}]
    assert record["associations"] == {"categories": [{"id": "2"}]}


def test_merge_changes_one_field_and_keeps_the_rest():
    merged = merge_into(
        sample("product.xml"), "product", {"price": Decimal("20.5"), "name": {1: "New"}}
    )
    before = xml_to_wire(sample("product.xml"))["product"]
    after = xml_to_wire(merged)["product"]
    assert after["price"] == "20.5"
    assert after["name"] == [{"id": "1", "value": "New"}]
    for name in before:
        if name not in ("price", "name"):
            assert after[name] == before[name], name
    assert b"xlink:href" not in merged and b"notFilterable" not in merged


def test_merge_keeps_languages_it_does_not_change():
    doc = build("product", {"id": 1, "name": {1: "Mug", 2: "Tasse"}})
    merged = xml_to_wire(merge_into(doc, "product", {"name": {2: "Bol"}}))["product"]
    assert merged["name"] == [{"id": "1", "value": "Mug"}, {"id": "2", "value": "Bol"}]


def test_hostile_xml_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<prestashop><order><id>&lol2;</id></order></prestashop>"
    )
    with pytest.raises(DataError):
        xml_to_wire(bomb)


def test_error_bodies_with_padding_are_trimmed():
    assert xml_to_wire(sample("error.xml")) == {"errors": [{"code": "92", "message": "Invalid ID"}]}


def test_dates_no_date_and_dst():
    paris = ZoneInfo("Europe/Paris")
    reader = translate.Reader(
        {
            "id": 1,
            "a": "0000-00-00 00:00:00",
            "b": "2024-03-31 03:30:00",
            "c": "2024-10-27 02:30:00",
        },
        resource="orders",
    )
    assert reader.moment("a", paris) is None
    assert reader.moment("b", paris).utcoffset().total_seconds() == 7200
    assert reader.moment("c", paris).utcoffset().total_seconds() == 7200  # first reading (fold=0)
    assert translate.format_date(datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("UTC")), paris) == (
        "2024-01-01 13:00:00"
    )


def test_numbers_as_strings_or_ints_and_flags():
    reader = translate.Reader(
        {"id": 1, "s": "42", "i": 42, "d": "16.510000", "z": 0, "t": True, "e": ""},
        resource="orders",
    )
    assert reader.integer("s") == reader.integer("i") == 42
    assert reader.decimal("d") == Decimal("16.51")
    assert reader.ref("z") is None
    assert reader.flag("t") is True and reader.flag("e") is False
    with pytest.raises(DataError) as caught:
        reader.flag("d")
    assert caught.value.field == "d"


def test_keyset_paginator_counts_rows_sharing_the_last_date():
    pager = DateKeysetPaginator("date_upd", "2024-01-01 00:00:00")
    pager.start()
    page = [{"date_upd": "2024-01-01 10:00:00"}, {"date_upd": "2024-01-01 10:00:00"}]
    assert pager.advance(page) == ("2024-01-01 10:00:00", 2)
    assert pager.advance(page) == ("2024-01-01 10:00:00", 4)
    assert pager.advance([{"date_upd": "2024-01-02 00:00:00"}]) == ("2024-01-02 00:00:00", 1)
    assert pager.advance([]) is None
    without_dates = DateKeysetPaginator("date_upd", "x")
    without_dates.start()
    with pytest.raises(DataError) as caught:
        without_dates.advance([{"id": 1}])
    assert caught.value.field == "date_upd"


def test_small_helpers():
    assert api_root("https://shop.example.com") == "https://shop.example.com/api"
    assert api_root("https://shop.example.com/fr/api/") == "https://shop.example.com/fr/api"
    assert parse_version("8.1.7") == (8, 1, 7)
    assert parse_version("1.7.8.8") == (1, 7, 8, 8)
    assert parse_version("") is None


def test_catalogs_cover_every_write():
    assert set(catalog.BY_OPERATION) == {
        "order_histories.create",
        "order_carriers.tracking",
        "order_payments.create",
        "stock_availables.quantity",
        "customers.save",
        "addresses.save",
    }
    payment = catalog.BY_OPERATION["order_payments.create"]
    assert payment.get("order_reference").max_length == 9
    assert payment.get("amount").required
