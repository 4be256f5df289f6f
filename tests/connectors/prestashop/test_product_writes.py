"""Item master written by the ERP: products and combinations created or updated by reference,
only the fields that changed, PATCH from 8.0 and read-modify-write PUT before. Unit tests
replay the published product/combination payloads; the rest runs over HTTP against the
simulator on both write profiles."""

import json
from decimal import Decimal

import pytest
import requests
import responses

from connectors.canonical import Product, Variant
from connectors.errors import DataError, TransientError
from connectors.prestashop import catalog, translate
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator
from connectors.prestashop.xml import xml_to_wire

from .conftest import BASE, make_client, sample, sim_client

XML = {"content_type": "text/xml;charset=utf-8"}
JSON = {"content_type": "application/json"}
AUTH = (DEFAULT_KEY, "")
LANGUAGES_JSON = {"languages": [{"id": 1}, {"id": 2}]}


def product(**overrides) -> Product:
    data = {
        "id": "ERP-1",
        "sku": "4573102616029",
        "ean": "4573102616029",
        "name": "Maquette Gundam - 017 Wing Gundam Zero Endless Waltz Gunpla RG 1/144 13cm",
        "price": "24.166667",
        "weight": "1.5",
        "active": True,
        **overrides,
    }
    return Product.model_validate(data)


def recorded_product_json() -> dict:
    return json.loads(sample("product.json"))["product"]


def write_calls(calls, method=None):
    methods = {method} if method else {"POST", "PUT", "PATCH"}
    return [c for c in calls if c.request.method in methods]


# ------------------------------------------------------------------ translation


def test_link_rewrite_and_language_values():
    assert translate.link_rewrite("Tee-shirt été 2024 !") == "tee-shirt-ete-2024"
    assert translate.link_rewrite("***") == "product"
    assert translate.language_dict("Mug", language_ids=[1]) == {1: "Mug"}
    listed = [{"id": "1", "value": "Mug"}, {"id": 2, "value": None}]
    assert translate.language_dict(listed) == {1: "Mug", 2: ""}
    assert translate.language_dict({"1": "a"}) == {1: "a"}


def test_product_to_wire_on_create_names_every_language():
    body = translate.product_to_wire(product(), language_ids=[1, 2], create=True)
    assert body["name"] == {1: product().name, 2: product().name}
    assert body["link_rewrite"][1].startswith("maquette-gundam-017-wing")
    assert (body["reference"], body["ean13"], body["price"], body["active"]) == (
        "4573102616029",
        "4573102616029",
        Decimal("24.166667"),
        True,
    )
    names = translate.product_to_wire(product(), language_ids=[1], names={1: "Mug", 2: "Tasse"})
    assert names["name"] == {1: "Mug", 2: "Tasse"} and "link_rewrite" not in names


def test_variant_to_wire_carries_impacts():
    variant = Variant(id="V1", sku="SKU-S", ean="", price_impact=Decimal("-1.5"))
    body = translate.variant_to_wire(
        variant, product_id=7, weight_impact=Decimal("0.2"), create=True
    )
    assert body == {
        "id_product": 7,
        "reference": "SKU-S",
        "ean13": "",
        "price": Decimal("-1.5"),
        "weight": Decimal("0.2"),
        "minimal_quantity": 1,
    }
    assert "weight" not in translate.variant_to_wire(variant, product_id=7)
    raw = Variant(id="V1", sku="S", raw={"weight_impact": "0.3"})
    assert translate.variant_to_wire(raw, product_id=7)["weight"] == Decimal("0.3")


def test_the_recorded_product_json_is_unchanged_by_its_own_values():
    current = recorded_product_json()  # PHP 8.1 ints, two languages
    wanted = translate.product_to_wire(product(), language_ids=[1])
    assert translate.changed_fields(current, wanted, resource="products") == {}
    wanted = translate.product_to_wire(product(price="25", name="New"), language_ids=[1])
    changes = translate.changed_fields(current, wanted, resource="products")
    assert changes["price"] == Decimal("25")
    # the changed language replaced, the other kept: a write can never blank it
    assert changes["name"] == {1: "New", 2: current["name"][1]["value"]}


def test_ean_zero_of_old_shops_means_no_ean():
    current = xml_to_wire(sample("product.xml"))["product"]  # 1.6: ean13 "0"
    changes = translate.changed_fields(current, {"ean13": ""}, resource="products")
    assert changes == {}


def test_catalogs_publish_products_and_combinations():
    assert catalog.ALL_BY_OPERATION["products.save"].get("reference").max_length == 64
    assert catalog.ALL_BY_OPERATION["products.save"].get("name").required
    assert catalog.ALL_BY_OPERATION["combinations.save"].get("id_product").required
    assert catalog.PRODUCT in catalog.CATALOGS and catalog.COMBINATION in catalog.CATALOGS
    # the order-flow mapping keeps what it always held
    assert "products.save" not in catalog.BY_OPERATION


def test_mappings_see_the_item_master_catalogs():
    from mappings import catalogs

    catalogs.reload()
    assert catalogs.get_catalog("prestashop", "products.save") is catalog.PRODUCT
    assert catalogs.get_catalog("prestashop", "combinations.save") is catalog.COMBINATION


# ------------------------------------------------------------------ unit, recorded payloads


@responses.activate
def test_unchanged_product_is_not_written():
    responses.get(f"{BASE}/products", json={"products": [recorded_product_json()]})
    responses.get(f"{BASE}/languages", json=LANGUAGES_JSON)
    client = make_client(version="8.1.7")
    record = client.save_product(product())
    assert record["id"] == 59989
    assert write_calls(responses.calls) == []
    lookup = responses.calls[0].request
    assert "filter%5Breference%5D=%5B4573102616029%5D" in lookup.url


@responses.activate
def test_patch_on_8_sends_only_id_and_the_changed_fields():
    current = recorded_product_json()
    responses.get(f"{BASE}/products", json={"products": [current]})
    responses.get(f"{BASE}/languages", json=LANGUAGES_JSON)
    responses.patch(f"{BASE}/products/59989", json={"product": current})
    client = make_client(version="8.1.7")
    client.save_product(product(price="19.90", name="Gunpla Wing Zero"))
    [patch] = write_calls(responses.calls)
    sent = xml_to_wire(patch.request.body)["product"]
    assert set(sent) == {"id", "price", "name"}
    assert sent["price"] == "19.90"
    assert sent["name"] == [
        {"id": "1", "value": "Gunpla Wing Zero"},
        {"id": "2", "value": current["name"][1]["value"]},
    ]


@responses.activate
def test_put_before_8_keeps_every_field_of_the_recorded_product():
    recorded = sample("product.xml")  # 1.6/1.7 layout, one language
    responses.get(f"{BASE}/products", body=recorded, **XML)  # the reference look-up
    responses.get(f"{BASE}/languages", json={"languages": [{"id": 1}]})
    responses.get(f"{BASE}/products/1", body=recorded, **XML)
    responses.put(f"{BASE}/products/1", body=recorded, **XML)
    client = make_client(version="1.7.8.8")
    client.save_product(
        Product(id="E1", sku="demo_1", name="Faded Tee", price=Decimal("16.51"), active=True)
    )
    [put] = write_calls(responses.calls)
    assert put.request.method == "PUT"
    before = xml_to_wire(recorded)["product"]
    after = xml_to_wire(put.request.body)["product"]
    # the read-only fields a product PUT refuses are left out, the name changed, the rest
    # exactly as read (descriptions, meta, associations, prices…)
    assert set(before) - set(after) == {"manufacturer_name", "quantity"}
    assert after["name"] == [{"id": "1", "value": "Faded Tee"}]
    for name in set(after) - {"name"}:
        assert after[name] == before[name], name
    assert "xlink" not in put.request.body.decode()


@responses.activate
def test_combination_put_before_8_keeps_the_recorded_fields():
    recorded = sample("combination.xml")
    responses.get(f"{BASE}/combinations", body=recorded, **XML)
    responses.get(f"{BASE}/combinations/1", body=recorded, **XML)
    responses.put(f"{BASE}/combinations/1", body=recorded, **XML)
    client = make_client(version="1.7.8.8")
    variant = Variant(id="V", sku="", ean="", price_impact=Decimal("0"))
    client.save_combination(variant, product_id=1, combination_id=1, weight_impact=Decimal("0.25"))
    [put] = write_calls(responses.calls)
    before = xml_to_wire(recorded)["combination"]
    after = xml_to_wire(put.request.body)["combination"]
    assert after["weight"] == "0.25"
    assert {k: v for k, v in after.items() if k != "weight"} == {
        k: v for k, v in before.items() if k != "weight"
    }


@responses.activate
def test_two_products_with_one_reference_is_a_conflict_named_by_reference():
    two = [recorded_product_json(), {**recorded_product_json(), "id": 5}]
    responses.get(f"{BASE}/products", json={"products": two})
    with pytest.raises(DataError) as caught:
        make_client(version="8.1.7").save_product(product())
    assert caught.value.field == "reference" and "59989, 5" in str(caught.value)


# ------------------------------------------------------------------ against the simulator

PROFILES = ("1.7", "8")


@pytest.fixture(params=PROFILES)
def shop(request):
    with PrestaShopSimulator(seed=4, version=request.param, orders=2) as simulator:
        yield simulator


def methods_on(sim, resource):
    return [m for m, path, _ in sim.requests if path.split("/api/")[-1].split("/")[0] == resource]


def test_new_product_is_created_with_names_and_a_stock_row(shop):
    client = sim_client(shop)
    record = client.save_product(product(sku="ERP-NEW-1", ean="3760000000017"))
    pid = int(record["id"])
    stored = shop.record("products", pid)
    assert stored["name"] == {1: product().name, 2: product().name}
    assert stored["link_rewrite"][1].startswith("maquette-gundam")
    assert (stored["reference"], stored["price"], stored["active"]) == (
        "ERP-NEW-1",
        "24.166667",
        1,
    )
    row = shop.state.stock_row(pid, 0)
    assert row is not None and row["quantity"] == 0
    assert client.find_stock(pid, 0)["id"] == row["id"]
    assert stored["associations"]["stock_availables"] == [
        {"id": row["id"], "id_product_attribute": 0}
    ]
    assert client.find_product("ERP-NEW-1")["id"] == pid
    assert client.product_document(pid).sku == "ERP-NEW-1"


def test_update_writes_only_what_changed_and_wipes_nothing(shop):
    client = sim_client(shop)
    before = json.loads(json.dumps(shop.record("products", 1)))  # a deep copy
    seeded = Product(
        id="E", sku=before["reference"], name="Renamed by the ERP", price=Decimal("12.34")
    )
    client.save_product(seeded)
    after = shop.record("products", 1)
    assert after["name"] == {1: "Renamed by the ERP", 2: before["name"]["2"]}
    assert after["price"] == "12.340000"
    untouched = set(before) - {"name", "price", "date_upd", "weight"}
    for name in untouched:
        value = before[name]
        if isinstance(value, dict) and name != "associations":
            value = {int(k): v for k, v in value.items()}
        assert after[name] == value, name
    expected = "PATCH" if shop.profile.patch else "PUT"
    assert methods_on(shop, "products")[-1] == expected


def test_saving_the_same_product_again_writes_nothing(shop):
    client = sim_client(shop)
    client.save_product(product(sku="ERP-SAME"))
    count = len(shop.requests)
    client.save_product(product(sku="ERP-SAME"))
    assert all(m == "GET" for m, _, _ in list(shop.requests)[count:])


def test_names_per_language_and_the_update_language(shop):
    client = sim_client(shop)
    created = client.save_product(product(sku="ERP-L"), names={1: "Mug", 2: "Tasse"})
    pid = int(created["id"])
    assert shop.record("products", pid)["name"] == {1: "Mug", 2: "Tasse"}
    client.save_product(product(sku="ERP-L", name="Big mug"))  # default: first language
    assert shop.record("products", pid)["name"] == {1: "Big mug", 2: "Tasse"}
    french = sim_client(shop, id_lang=2)
    french.save_product(product(sku="ERP-L", name="Grande tasse"))
    assert shop.record("products", pid)["name"] == {1: "Big mug", 2: "Grande tasse"}


def test_combinations_are_created_with_stock_and_updated_in_place(shop):
    client = sim_client(shop)
    item = product(
        sku="ERP-TEE",
        variants=[
            {"id": "V-S", "sku": "ERP-TEE-S", "ean": "3760000000024", "price_impact": "0"},
            {"id": "V-L", "sku": "ERP-TEE-L", "price_impact": "2.5"},
        ],
    )
    saved = client.save_item(item, weight_impacts={"ERP-TEE-L": Decimal("0.1")})
    pid = int(saved["product"]["id"])
    combos = [int(c["id"]) for c in saved["combinations"]]
    assert shop.state.combinations_of[pid] == combos
    for combo in combos:
        assert shop.state.stock_row(pid, combo)["quantity"] == 0
    large = shop.record("combinations", combos[1])
    assert (large["price"], large["weight"], large["minimal_quantity"]) == (
        "2.500000",
        "0.100000",
        1,
    )
    shop.set_stock(pid, combos[0], 4)
    assert shop.state.stock_row(pid, 0)["quantity"] == 4  # product row = sum of combinations
    assert shop.record("products", pid)["id_default_combination"] == combos[0]
    # a second run: only the changed impact is written, stock and the rest untouched
    item.variants[1].price_impact = Decimal("3")
    again = client.save_item(item, weight_impacts={"ERP-TEE-L": Decimal("0.1")})
    assert [int(c["id"]) for c in again["combinations"]] == combos
    assert shop.record("combinations", combos[1])["price"] == "3.000000"
    assert shop.record("combinations", combos[1])["weight"] == "0.100000"
    assert shop.state.stock_row(pid, combos[0])["quantity"] == 4
    assert len(shop.state.tables["combinations"]) == len(
        [c for cs in shop.state.combinations_of.values() for c in cs]
    )
    assert client.find_combination("ERP-TEE-L", product_id=pid)["id"] == combos[1]


def test_combination_update_keeps_its_other_fields(shop):
    client = sim_client(shop)
    pid, combo_id = next((p, cs[0]) for p, cs in shop.state.combinations_of.items() if cs)
    before = dict(shop.record("combinations", combo_id))
    variant = Variant(
        id="V", sku=before["reference"], ean=before["ean13"], price_impact=Decimal("9")
    )
    client.save_combination(variant, product_id=pid)
    after = shop.record("combinations", combo_id)
    assert after["price"] == "9.000000"
    assert {k: v for k, v in after.items() if k != "price"} == {
        k: v for k, v in before.items() if k != "price"
    }


def test_a_reference_of_another_product_is_refused(shop):
    client = sim_client(shop)
    pid, combo_id = next((p, cs[0]) for p, cs in shop.state.combinations_of.items() if cs)
    other = next(p for p in shop.state.product_ids if p != pid)
    taken = shop.record("combinations", combo_id)["reference"]
    with pytest.raises(DataError) as caught:
        client.save_combination(Variant(id="V", sku=taken), product_id=other)
    assert caught.value.field == "reference" and f"product {pid}" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"name": "N" * 129}, "84", "Product->name length (129) must be between 0 and 128"),
        ({"ean": "37600000000A"}, "85", "Product->ean13 is not valid"),
        ({"sku": "R" * 65}, "85", "Product->reference length (65)"),
        ({"price": "-1"}, "85", "Product->price is not valid"),
    ],
)
def test_validation_errors_are_data_errors_in_prestashop_words(shop, overrides, code, fragment):
    client = sim_client(shop)
    overrides.setdefault("sku", "ERP-BAD")
    before = len(shop.state.tables["stock_availables"])
    with pytest.raises(DataError) as caught:
        client.save_product(product(**overrides))
    assert caught.value.status_code == 400
    assert caught.value.details["codes"] == [code]
    assert fragment in str(caught.value)
    assert len(shop.state.tables["stock_availables"]) == before  # nothing was created


def test_validation_on_update_keeps_the_record(shop):
    client = sim_client(shop)
    before = dict(shop.record("products", 2))
    with pytest.raises(DataError):
        client.save_product(
            Product(id="E", sku=before["reference"], name="x" * 200, price=Decimal("1"))
        )
    assert shop.record("products", 2) == before


def test_raw_writes_get_prestashop_errors(shop):
    url = shop.base_url
    no_name = b"<prestashop><product><price>1</price></product></prestashop>"
    answer = requests.post(f"{url}/products", data=no_name, auth=AUTH, timeout=5)
    error = xml_to_wire(answer.content)["errors"][0]
    assert (answer.status_code, error["code"]) == (400, "41")
    english_missing = (
        b'<prestashop><product><price>1</price><name><language id="2">Tasse</language>'
        b"</name></product></prestashop>"
    )
    answer = requests.post(f"{url}/products", data=english_missing, auth=AUTH, timeout=5)
    assert xml_to_wire(answer.content)["errors"][0]["message"] == (
        'Validation error: "Property Product->name is empty for default language."'
    )
    orphan = (
        b"<prestashop><combination><id_product>9999</id_product>"
        b"<minimal_quantity>1</minimal_quantity></combination></prestashop>"
    )
    answer = requests.post(f"{url}/combinations", data=orphan, auth=AUTH, timeout=5)
    assert (answer.status_code, xml_to_wire(answer.content)["errors"][0]["code"]) == (400, "85")
    assert (
        requests.post(f"{url}/stock_availables", data=orphan, auth=AUTH, timeout=5).status_code
        == 405
    )  # rows are the shop's own, still


def test_deleting_a_combination_takes_its_stock_row(shop):
    client = sim_client(shop)
    saved = client.save_item(
        product(
            sku="ERP-DEL",
            variants=[{"id": "a", "sku": "ERP-DEL-A"}, {"id": "b", "sku": "ERP-DEL-B"}],
        )
    )
    pid = int(saved["product"]["id"])
    first, second = (int(c["id"]) for c in saved["combinations"])
    shop.set_stock(pid, second, 7)
    answer = requests.delete(f"{shop.base_url}/combinations/{first}", auth=AUTH, timeout=5)
    assert answer.status_code == 200
    assert shop.state.stock_row(pid, first) is None
    assert shop.state.stock_row(pid, 0)["quantity"] == 7
    assert shop.record("products", pid)["id_default_combination"] == second


def test_a_lost_answer_to_the_create_does_not_make_a_second_product(shop):
    client = sim_client(shop, read_timeout=0.3)
    shop.faults.timeout_seconds = 1.0
    shop.faults.fail_next("timeout_after_write", method="POST", resource="products")
    with pytest.raises(TransientError):  # the POST is never retried by the HTTP layer
        client.save_product(product(sku="ERP-ONCE"))
    again = sim_client(shop).save_product(product(sku="ERP-ONCE"))
    same = [p for p in shop.state.tables["products"].values() if p["reference"] == "ERP-ONCE"]
    assert len(same) == 1 and same[0]["id"] == int(again["id"])
    assert methods_on(shop, "products").count("POST") == 1


def test_unknown_values_and_unowned_fields_are_left_alone(shop):
    client = sim_client(shop)
    before = dict(shop.record("products", 3))
    # no EAN, no price, no weight in the ERP record: the shop keeps its own
    client.save_product(Product(id="E", sku=before["reference"], name=before["name"][1]))
    after = shop.record("products", 3)
    assert (after["ean13"], after["price"], after["weight"]) == (
        before["ean13"],
        before["price"],
        before["weight"],
    )
    # `fields`: the ERP owns the price only; a different name is not written
    client.save_product(
        Product(id="E", sku=before["reference"], name="Other", price=Decimal("7")),
        fields=("price",),
    )
    after = shop.record("products", 3)
    assert (after["price"], after["name"]) == ("7.000000", before["name"])


# ------------------------------------------------------------------ conditional GET (optional)


@responses.activate
def test_conditional_get_sends_the_previous_sha1_and_reads_304():
    responses.get(
        f"{BASE}/products/1",
        json={"product": recorded_product_json()},
        headers={"Content-Sha1": "abc123"},
    )
    client = make_client(version="8.1.7")
    record, sha1 = client.get_if_changed("products", 1)
    assert (record["id"], sha1) == (59989, "abc123")
    assert "Local-Content-Sha1" not in responses.calls[0].request.headers
    responses.replace(responses.GET, f"{BASE}/products/1", status=304, body=b"")
    assert client.get_if_changed("products", 1, sha1=sha1) == (None, "abc123")
    assert responses.calls[1].request.headers["Local-Content-Sha1"] == "abc123"


def test_conditional_get_against_the_simulator(shop):
    client = sim_client(shop)
    record, sha1 = client.get_if_changed("products", 1)
    assert record["id"] == 1 and len(sha1) == 40
    again, same = client.get_if_changed("products", 1, sha1=sha1)
    if shop.profile.conditional_get:  # 8.0+: 304 Not Modified
        assert (again, same) == (None, sha1)
    else:  # 1.7: the header is not honoured, the body comes back
        assert again == record and same == sha1
    client.save_product(Product(id="E", sku=record["reference"], name="Changed", price=None))
    changed, new_sha1 = client.get_if_changed("products", 1, sha1=sha1)
    assert changed is not None and new_sha1 != sha1
    assert translate.language_value(changed["name"], 1) == "Changed"
