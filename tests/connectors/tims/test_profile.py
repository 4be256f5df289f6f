"""The profile is configuration: defaults, overrides from Connection.options, aliases."""

import subprocess
import sys
from pathlib import Path

import pytest

from connectors.catalog import FieldType
from connectors.errors import DataError
from connectors.models import Connection, System
from connectors.tims.catalog import catalogs
from connectors.tims.client import TimsClient
from connectors.tims.profile import AuthMode, Operation, PagingStyle, TimsProfile

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_the_assumed_profile():
    profile = TimsProfile()
    assert profile.auth_mode is AuthMode.CLIENT_CREDENTIALS
    assert profile.paging is PagingStyle.PAGE
    assert profile.path(Operation.SALES_ORDER_GET, order_number="SO 1") == "/sales-orders/SO%201"
    assert profile.method(Operation.PAYMENT_CREATE) == "POST"
    assert profile.method(Operation.CUSTOMER_UPDATE) == "PATCH"


def test_options_override_and_the_rest_keeps_defaults():
    profile = TimsProfile.from_options(
        {"profile": {"paths": {"item_get": "/Item/{item_code}"}, "paging": "cursor"}},
        base_url="https://tims.example.com",
    )
    assert profile.base_url == "https://tims.example.com"
    assert profile.path(Operation.ITEM_GET, item_code="A") == "/Item/A"
    assert profile.path_template(Operation.ITEM_LIST) == "/items"
    assert profile.paging is PagingStyle.CURSOR


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"auth_mode": "kerberos"}, "profile.auth_mode"),
        ({"paths": {"teleport": "/x"}}, "profile.paths.teleport"),
        ({"page_size": 0}, "profile.page_size"),
        ({"aliases": {"A": "customer_code", "B": "customer_code"}}, "profile.aliases"),
        ({"colour": "red"}, "profile.colour"),
    ],
)
def test_bad_options_name_the_setting(options, field):
    with pytest.raises(DataError) as caught:
        TimsProfile.from_options({"profile": options})
    assert caught.value.field == field


def test_a_path_template_with_an_unknown_placeholder_is_named():
    profile = TimsProfile(paths={"item_get": "/items/{sku}"})
    with pytest.raises(DataError) as caught:
        profile.path(Operation.ITEM_GET, item_code="A")
    assert caught.value.field == "profile.paths.item_get" and "'sku'" in caught.value.message


def test_aliases_rename_both_ways_at_every_level():
    profile = TimsProfile(aliases={"CustNo": "customer_code", "ItemNo": "item_code"})
    wire = {"CustNo": "C1", "Lines": [{"ItemNo": "A", "Qty": "1"}], "custom": {"ItemNo": "B"}}
    ours = profile.to_ours(wire)
    assert ours == {
        "customer_code": "C1",
        "Lines": [{"item_code": "A", "Qty": "1"}],
        "custom": {"item_code": "B"},
    }
    assert profile.to_wire(ours) == wire
    assert profile.wire_name("customer_code") == "CustNo" and profile.wire_name("x") == "x"


@pytest.mark.django_db
def test_client_from_connection():
    connection = Connection.objects.create(
        system=System.TIMS,
        name="TIMS",
        base_url="https://tims.example.com/api/v1",
        credentials={"api_key": "key-from-the-vault"},
        options={
            "read_timeout": 7,
            "profile": {"auth_mode": "api_key_header", "paths": {"item_get": "/i/{item_code}"}},
        },
    )
    client = TimsClient.from_connection(Connection.objects.get(pk=connection.pk))
    assert client.base_url == "https://tims.example.com/api/v1"
    assert client.options.read_timeout == 7
    assert client.profile.path(Operation.ITEM_GET, item_code="A") == "/i/A"
    kwargs: dict = {}
    client.authenticate(kwargs)
    assert kwargs["headers"]["X-Api-Key"] == "key-from-the-vault"


def test_catalog_matches_the_default_mapping_operations():
    by_operation = {c.operation: c for c in catalogs()}
    assert {"sales_orders.create", "sales_order_lines.create", "customers.create"} <= set(
        by_operation
    )
    order = by_operation["sales_orders.create"]
    assert order.system == "tims" and "assumed" in order.description
    assert order.get("customer_po").required and order.get("customer_po").max_length == 30
    for flag in ("will_call", "override_backorder"):
        assert order.get(flag).type is FieldType.BOOLEAN
    assert order.get("location_id").max_length == 10
    assert order.get("blanket_po").type is FieldType.STRING
    assert order.get("order_number") is None  # the server's, never mapped
    line = by_operation["sales_order_lines.create"]
    assert line.get("quantity").type is FieldType.NUMBER and line.get("quantity").required
    assert line.get("unit_price").decimals == 6
    assert line.get("line_no").type is FieldType.INTEGER
    fee = by_operation["sales_order_fees.create"]
    assert [f.name for f in fee.fields] == ["code", "description", "amount"]
    assert by_operation["payments.create"].get("date").type is FieldType.DATETIME


def test_manage_py_simulate_tims_starts_and_says_it_is_assumed():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulate", "tims", "--port", "0", "--seed", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "ASSUMED interface" in line and "http://127.0.0.1:" in line and "/api/v1" in line
