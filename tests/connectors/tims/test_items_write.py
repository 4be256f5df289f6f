"""TIMS item writes (ASSUMED interface): PATCH /items/{item_code} and POST /items, on every
backend of the contract suite (in-process, HTTP, HTTP with a changed profile)."""

from decimal import Decimal

import pytest

from connectors.errors import DataError, NotFoundError
from connectors.tims.profile import DEFAULT_ROUTES, Operation


def test_the_item_write_routes_are_in_the_assumed_profile():
    assert DEFAULT_ROUTES[Operation.ITEM_UPDATE] == ("PATCH", "/items/{item_code}")
    assert DEFAULT_ROUTES[Operation.ITEM_CREATE] == ("POST", "/items")


def test_an_update_changes_only_the_fields_sent(tims):
    code = "CYL-AR-300"
    before = dict(tims.app.state.items[code])
    product = tims.client.update_item(code, {"description": "Argon 300 (shop name)"})
    assert product.name == "Argon 300 (shop name)"
    after = tims.app.state.items[code]
    assert after["list_price"] == before["list_price"] and after["weight"] == before["weight"]
    (sent,) = tims.app.requests_to(Operation.ITEM_UPDATE)
    assert set(sent.body) == {tims.profile.wire_name("description")}


def test_decimals_go_as_strings_and_custom_fields_are_kept(tims):
    product = tims.client.update_item("GLV-TIG-L", {"list_price": Decimal("21.50"), "ean": "1"})
    assert product.price == Decimal("21.50")
    assert tims.app.state.items["GLV-TIG-L"]["ean"] == "1"
    assert product.raw["ean"] == "1"


def test_updating_an_unknown_item_is_not_found(tims):
    with pytest.raises(NotFoundError):
        tims.client.update_item("NO-SUCH-ITEM", {"description": "x"})


def test_an_empty_description_is_refused_naming_the_field(tims):
    with pytest.raises(DataError) as caught:
        tims.client.update_item("CYL-AR-300", {"description": ""})
    assert caught.value.field == "description"


def test_an_item_is_created_once(tims):
    item = {"item_code": "NEW-ITEM-1", "description": "New item", "list_price": "5.00"}
    first = tims.client.create_item(item, idempotency_key="item:NEW-ITEM-1")
    again = tims.client.create_item(item, idempotency_key="item:NEW-ITEM-1")
    assert first.created and not again.created
    assert first.document.sku == again.document.sku == "NEW-ITEM-1"
    assert len(tims.app.requests_to(Operation.ITEM_CREATE)) == 1
    assert tims.app.state.items["NEW-ITEM-1"]["list_price"] == "5.00"
