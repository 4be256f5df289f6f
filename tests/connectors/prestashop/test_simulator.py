"""The simulator's wire behaviour, spoken to with plain `requests` (no connector code), so
that a third-party client of the real API would see the same."""

import json
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
import requests

from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator, cli
from connectors.prestashop.xml import xml_to_wire

from .conftest import sample

AUTH = (DEFAULT_KEY, "")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sim8():
    with PrestaShopSimulator(seed=11, version="8") as simulator:
        yield simulator


@pytest.fixture(scope="module")
def sim17():
    with PrestaShopSimulator(seed=11, version="1.7") as simulator:
        yield simulator


def get(sim, path, **params):
    return requests.get(f"{sim.base_url}/{path}", params=params, auth=AUTH, timeout=5)


def ids(response):
    data = response.json()
    return [r["id"] for r in next(iter(data.values()))] if data else []


def test_default_output_is_xml_with_cdata_and_xlinks(sim8):
    response = get(sim8, "orders/1")
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.headers["PSWS-Version"] == "8.1.7"
    assert b'<id_customer xlink:href="http://127.0.0.1:' in response.content
    assert b"<![CDATA[" in response.content
    assert b'<shipping_number notFilterable="true">' in response.content
    assert xml_to_wire(response.content)["order"]["associations"]["order_rows"]


def test_io_format_header_wins_over_the_query(sim8):
    response = requests.get(
        f"{sim8.base_url}/orders/1",
        params={"output_format": "XML"},
        headers={"Io-Format": "JSON"},
        auth=AUTH,
        timeout=5,
    )
    assert response.json()["order"]["id"] == 1


def test_ws_key_query_parameter_is_accepted(sim8):
    response = requests.get(f"{sim8.base_url}/orders/1", params={"ws_key": DEFAULT_KEY}, timeout=5)
    assert response.status_code == 200


def test_no_key_is_plain_text_401(sim8):
    response = requests.get(f"{sim8.base_url}/orders", timeout=5)
    assert response.status_code == 401
    assert response.text == "401 Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_api_root_lists_permissions(sim8):
    sim8.add_key("K" * 32, {"orders": ["GET"], "order_histories": ["GET", "POST"]})
    response = requests.get(f"{sim8.base_url}/", auth=("K" * 32, ""), timeout=5)
    api = xml_to_wire(response.content)["api"]
    assert api == {
        "order_histories": {
            "GET": True,
            "PUT": False,
            "POST": True,
            "PATCH": False,
            "DELETE": False,
            "HEAD": False,
        },
        "orders": {
            "GET": True,
            "PUT": False,
            "POST": False,
            "PATCH": False,
            "DELETE": False,
            "HEAD": False,
        },
    }


def test_filters_equal_or_range_like_and_comparisons(sim8):
    assert ids(
        get(sim8, "orders", output_format="JSON", display="[id]", **{"filter[id]": "[3]"})
    ) == [3]
    assert ids(
        get(sim8, "orders", output_format="JSON", display="[id]", **{"filter[id]": "[2|5]"})
    ) == [2, 5]
    # Interval: both ends inclusive.
    assert ids(
        get(sim8, "orders", output_format="JSON", display="[id]", **{"filter[id]": "[4,6]"})
    ) == [4, 5, 6]
    assert ids(
        get(sim8, "orders", output_format="JSON", display="[id]", **{"filter[id]": ">[18]"})
    ) == [19, 20]
    assert 3 not in ids(
        get(sim8, "orders", output_format="JSON", display="[id]", **{"filter[id]": "![3]"})
    )
    customer = sim8.record("customers", 1)
    like = get(
        sim8,
        "customers",
        output_format="JSON",
        display="[id]",
        **{"filter[email]": "%[CUSTOMER1@]%"},
    )
    assert customer["id"] in ids(like)


def test_date_filters_need_date_1(sim8):
    response = get(
        sim8, "orders", output_format="JSON", **{"filter[date_upd]": ">[2000-01-01 00:00:00]"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 33
    ok = get(
        sim8,
        "orders",
        output_format="JSON",
        display="[id]",
        date="1",
        **{"filter[date_upd]": ">[2000-01-01 00:00:00]"},
    )
    assert len(ids(ok)) == 20


def test_sort_and_limit(sim8):
    rows = get(sim8, "orders", output_format="JSON", display="[id]", sort="[id_DESC]", limit="2,3")
    assert ids(rows) == [18, 17, 16]
    assert ids(get(sim8, "orders", output_format="JSON", display="[id]", limit="2")) == [1, 2]


def test_display_fields_and_unknown_field(sim8):
    rows = get(sim8, "orders", output_format="JSON", display="[id,reference]", limit="1").json()
    assert set(rows["orders"][0]) == {"id", "reference"}
    bad = get(sim8, "orders", output_format="JSON", display="[id,nope]")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == 35


def test_display_on_one_id_is_a_list_and_missing_id_is_an_empty_404(sim8):
    assert "orders" in get(sim8, "orders/1", output_format="JSON", display="full").json()
    missing = get(sim8, "orders/9999", output_format="JSON")
    assert missing.status_code == 404
    assert missing.content == b""


def test_empty_json_list_is_bare_brackets(sim8):
    response = get(sim8, "orders", output_format="JSON", **{"filter[id]": "[99999]"})
    assert response.content == b"[]"
    xml = get(sim8, "orders", **{"filter[id]": "[99999]"})
    assert xml_to_wire(xml.content) == {"orders": []}


def test_languages_single_is_a_plain_string(sim8):
    both = get(sim8, "products/1", output_format="JSON").json()["product"]["name"]
    assert [entry["id"] for entry in both] == [1, 2]
    one = get(sim8, "products", output_format="JSON", display="[id,name]", language="1", limit="1")
    assert isinstance(one.json()["products"][0]["name"], str)


def test_strings_on_17_ints_on_8(sim8, sim17):
    assert (
        get(sim8, "orders/1", output_format="JSON").json()["order"]["id_customer"]
        == sim8.record("orders", 1)["id_customer"]
    )
    assert isinstance(
        get(sim17, "orders/1", output_format="JSON").json()["order"]["id_customer"], str
    )


def test_patch_is_refused_on_17_like_the_recorded_error(sim17):
    response = requests.patch(
        f"{sim17.base_url}/order_carriers/1",
        data=b"<prestashop><order_carrier><id>1</id></order_carrier></prestashop>",
        params={"output_format": "JSON"},
        auth=AUTH,
        timeout=5,
    )
    assert response.status_code == 405
    assert response.json() == json.loads(sample("error.json"))


def test_write_errors(sim8):
    url = sim8.base_url
    body = b"<prestashop><stock_available><id_product>1</id_product></stock_available></prestashop>"
    assert (
        requests.post(f"{url}/stock_availables", data=body, auth=AUTH, timeout=5).status_code == 405
    )
    with_id = b"<prestashop><order_history><id>4</id><id_order>1</id_order><id_order_state>2</id_order_state></order_history></prestashop>"
    response = requests.post(f"{url}/order_histories", data=with_id, auth=AUTH, timeout=5)
    assert (response.status_code, xml_to_wire(response.content)["errors"][0]["code"]) == (400, "91")
    partial = b"<prestashop><order_carrier><id>1</id><tracking_number>X</tracking_number></order_carrier></prestashop>"
    response = requests.put(f"{url}/order_carriers/1", data=partial, auth=AUTH, timeout=5)
    assert (response.status_code, xml_to_wire(response.content)["errors"][0]["code"]) == (400, "41")
    response = requests.post(
        f"{url}/order_histories", data=b"<prestashop><broken>", auth=AUTH, timeout=5
    )
    assert (response.status_code, xml_to_wire(response.content)["errors"][0]["code"]) == (
        500,
        "127",
    )
    response = requests.get(f"{url}/ordres", auth=AUTH, timeout=5)
    assert (response.status_code, xml_to_wire(response.content)["errors"][0]["code"]) == (400, "27")
    response = requests.put(
        f"{url}/order_carriers/999",
        data=partial.replace(b"<id>1", b"<id>999"),
        auth=AUTH,
        timeout=5,
    )
    assert response.status_code == 404
    assert xml_to_wire(response.content) == xml_to_wire(sample("error.xml"))


def test_recorded_write_bodies_are_accepted(sim8):
    # The published request bodies, posted as they are (values adapted to seeded ids).
    body = sample("order_history.post_request.xml").replace(b"10744", b"1")
    response = requests.post(f"{sim8.base_url}/order_histories", data=body, auth=AUTH, timeout=5)
    assert response.status_code == 201
    assert sim8.record("orders", 1)["current_state"] == 2
    body = sample("order_payment.post_request.DERIVED.xml")
    response = requests.post(f"{sim8.base_url}/order_payments", data=body, auth=AUTH, timeout=5)
    assert response.status_code == 201
    created = xml_to_wire(response.content)["order_payment"]
    assert created["transaction_id"] == "ERP-PAY-000123"
    # PUT to the collection with the id in the body (as the recorded stock call does).
    row = sim8.state.stock_row(sim8.state.product_ids[-1], 0)
    body = (
        sample("stock_available.put_request.xml")
        .replace(b"<id>1</id>", f"<id>{row['id']}</id>".encode())
        .replace(
            b"<id_product>1</id_product>", f"<id_product>{row['id_product']}</id_product>".encode()
        )
    )
    response = requests.put(f"{sim8.base_url}/stock_availables", data=body, auth=AUTH, timeout=5)
    assert response.status_code == 200
    assert row["id"] in sim8.state.tables["stock_availables"]
    assert sim8.state.tables["stock_availables"][row["id"]]["quantity"] == 0


def test_method_override_and_head(sim8):
    response = requests.head(f"{sim8.base_url}/orders/1", auth=AUTH, timeout=5)
    assert response.status_code == 200
    override = requests.post(
        f"{sim8.base_url}/order_carriers/1",
        params={"ps_method": "PATCH"},
        data=b"<prestashop><order_carrier><id>1</id><tracking_number>OVR</tracking_number></order_carrier></prestashop>",
        auth=AUTH,
        timeout=5,
    )
    assert override.status_code == 200
    assert sim8.state.tables["order_carriers"][1]["tracking_number"] == "OVR"


def test_split_orders_share_a_reference(sim8):
    references = [o["reference"] for o in sim8.state.tables["orders"].values()]
    assert len(set(references)) < len(references)


def test_seed_is_deterministic():
    a = PrestaShopSimulator(seed=42)
    b = PrestaShopSimulator(seed=42)
    assert [o["reference"] for o in a.state.tables["orders"].values()] == [
        o["reference"] for o in b.state.tables["orders"].values()
    ]


def test_orders_are_placed_per_minute_and_stock_moves():
    with PrestaShopSimulator(seed=1, orders_per_minute=1200) as simulator:
        before = len(simulator.state.tables["orders"])
        deadline = time.monotonic() + 3
        while len(simulator.state.tables["orders"]) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(simulator.state.tables["orders"]) >= before + 2
    product_id = simulator.state.product_ids[0]
    row = simulator.set_stock(
        product_id, simulator.state.combinations_of.get(product_id, [0])[0], 7
    )
    assert row["quantity"] == 7


def test_cli_runs_and_prints_the_url():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    cli.add_arguments(parser)
    options = vars(parser.parse_args(["--version", "1.7", "--orders", "5", "--latency", "0.01"]))
    out, stop = StringIO(), threading.Event()
    thread = threading.Thread(target=cli.run, args=(options, out), kwargs={"stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while "listening on" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = out.getvalue().split("listening on ")[1].split()[0]
        response = requests.get(
            f"{url}/orders", params={"output_format": "JSON"}, auth=AUTH, timeout=5
        )
        assert len(response.json()["orders"]) == 5
        assert response.headers["PSWS-Version"].startswith("1.7")
    finally:
        stop.set()
        thread.join(5)


def test_management_command_parser_accepts_the_knobs():
    from connectors.management.commands.simulate import Command

    parser = Command().create_parser("manage.py", "simulate")
    options = vars(
        parser.parse_args(
            [
                "prestashop",
                "--port",
                "0",
                "--seed",
                "3",
                "--key",
                DEFAULT_KEY,
                "--version",
                "9",
                "--orders-per-minute",
                "6",
                "--error-rate",
                "0.1",
                "--rate-limit",
                "5",
            ]
        )
    )
    assert (options["ps_version"], options["orders_per_minute"], options["seed"]) == ("9", 6.0, 3)
    sim = cli.build(options)
    assert sim.profile.name == "9" and sim.faults.error_rate == 0.1


def test_module_entry_point_serves(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.prestashop.simulator", "--orders", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.split("listening on ")[1].split()[0]
        response = requests.get(f"{url}/orders", auth=AUTH, timeout=5)
        assert len(xml_to_wire(response.content)["orders"]) == 3
    finally:
        process.terminate()
        process.wait(5)


def test_prestapyt_works_unchanged_when_installed(sim17):
    # The best-known Python client of the real API (not a project dependency: skipped unless
    # installed). Checked by hand against profiles 1.7 and 8 with prestapyt 0.11.1.
    prestapyt = pytest.importorskip("prestapyt")
    ps = prestapyt.PrestaShopWebServiceDict(sim17.base_url, DEFAULT_KEY)
    assert ps.search("orders", options={"filter[id]": "[1|3]"}) == [1, 3]
    carrier = ps.get("order_carriers", 1)
    carrier["order_carrier"]["tracking_number"] = "PYT-1"
    ps.edit("order_carriers", carrier)
    assert sim17.state.tables["order_carriers"][1]["tracking_number"] == "PYT-1"
    ps.add("order_histories", {"order_history": {"id_order": 2, "id_order_state": 5}})
    assert sim17.record("orders", 2)["current_state"] == 5
