"""The client over real HTTP against the in-process simulator, for each version profile."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.canonical import Address, Customer, Payment
from connectors.errors import AuthError, DataError, NotFoundError, PermanentError
from connectors.prestashop.check import check_connection
from connectors.prestashop.simulator import PrestaShopSimulator

from .conftest import sim_client

KEY_ONLY_ORDERS = "READONLYKEY000000000000000000000"


def without_raw(value):
    if isinstance(value, dict):
        return {k: without_raw(v) for k, v in value.items() if k != "raw"}
    if isinstance(value, list):
        return [without_raw(v) for v in value]
    return value


def state_orders(sim):
    return sorted(sim.state.tables["orders"].values(), key=lambda o: (o["date_upd"], o["id"]))


def test_incremental_read_streams_every_order_in_date_order(sim):
    client = sim_client(sim, page_size=7)
    rows = list(client.iter_changed("orders"))
    expected = state_orders(sim)
    assert [int(r["id"]) for r in rows] == [o["id"] for o in expected]
    pages = [q for m, p, q in sim.requests if p.endswith("/orders") and "limit" in q]
    assert pages[-1]["sort"] == "[date_upd_ASC,id_ASC]"
    assert pages[-1]["date"] == "1"
    assert pages[0]["limit"] == "0,7"


def test_incremental_read_window_is_inclusive_at_both_ends(sim):
    expected = state_orders(sim)
    low, high = expected[3]["date_upd"], expected[9]["date_upd"]
    client = sim_client(sim, page_size=4)
    tz = client.timezone
    rows = list(
        client.iter_changed(
            "orders",
            since=datetime.strptime(low, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz),
            until=datetime.strptime(high, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz),
        )
    )
    assert [int(r["id"]) for r in rows] == [o["id"] for o in expected[3:10]]


def test_since_is_converted_to_the_shop_timezone(sim):
    client = sim_client(sim, timezone="Europe/Paris")
    last = state_orders(sim)[-1]
    local = datetime.strptime(last["date_upd"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=client.timezone)
    in_utc = local.astimezone(ZoneInfo("UTC"))
    rows = list(client.iter_changed("orders", since=in_utc))
    assert int(rows[0]["id"]) == last["id"]
    # The filter was sent in shop time.
    sent = [q for m, p, q in sim.requests if p.endswith("/orders") and "filter[date_upd]" in q][-1]
    assert sent["filter[date_upd]"].startswith(f"[{last['date_upd']},")


def test_a_record_updated_mid_run_does_not_make_another_one_skipped(fresh_sim):
    client = sim_client(fresh_sim, page_size=5)
    expected = [o["id"] for o in state_orders(fresh_sim)]
    seen = []
    for n, row in enumerate(client.iter_changed("orders")):
        seen.append(int(row["id"]))
        if n == 6:
            # Someone changes an order already read: it leaves the run's window.
            fresh_sim.state.tables["orders"][expected[2]]["date_upd"] = "2999-01-01 00:00:00"
    assert seen == expected


def test_orders_translate_to_canonical_documents(sim):
    client = sim_client(sim)
    for row in list(client.iter_changed("orders"))[:5]:
        order = client.order_document(row)
        source = sim.record("orders", int(row["id"]))
        assert order.reference == source["reference"]
        assert order.total_paid == Decimal(source["total_paid_tax_incl"])
        assert [ln.sku for ln in order.lines] == [
            r["product_reference"] for r in source["associations"]["order_rows"]
        ]
        assert order.currency == "EUR"
        assert order.placed_at.tzinfo is not None
        assert len(order.shipping_address.country) == 2


def test_integer_columns_follow_the_version_profile(sim):
    client = sim_client(sim)
    (row,) = client.list_records("orders", limit=1)
    if sim.profile.json_ints:
        assert isinstance(row["id_customer"], int)
    else:
        assert isinstance(row["id_customer"], str)
    assert isinstance(row["id"], int)  # id is an int in JSON on every version
    assert isinstance(row["total_paid"], str)  # decimals stay strings


def test_xml_and_json_reads_agree(sim):
    as_json = sim_client(sim).order_document(1)
    as_xml = sim_client(sim, output_format="XML").order_document(1)
    assert without_raw(as_json.model_dump(mode="json")) == without_raw(
        as_xml.model_dump(mode="json")
    )


def test_get_with_display_and_unknown_id(sim):
    client = sim_client(sim)
    assert (
        client.get("orders", 1, display="[id,reference]")["reference"]
        == sim.record("orders", 1)["reference"]
    )
    with pytest.raises(NotFoundError) as caught:
        client.get("orders", 999_999)
    assert "orders" in str(caught.value)


def test_every_read_resource_answers(sim):
    client = sim_client(sim)
    for name in (
        "orders",
        "order_details",
        "customers",
        "addresses",
        "products",
        "combinations",
        "stock_availables",
        "order_states",
        "order_carriers",
        "order_payments",
        "order_invoices",
        "currencies",
        "countries",
        "carriers",
        "shops",
        "languages",
    ):
        rows = list(client.iter_records(name, page_size=50))
        assert len(rows) == len(sim.state.tables[name]), name


def test_product_document_with_variants(sim):
    client = sim_client(sim)
    product_id = next(p for p, combos in sim.state.combinations_of.items() if combos)
    product = client.product_document(product_id)
    assert [v.id for v in product.variants] == [
        str(c) for c in sim.state.combinations_of[product_id]
    ]
    assert all(v.sku.startswith(product.sku) for v in product.variants)
    assert all(len(v.ean) == 13 for v in product.variants)


def test_stock_level_uses_the_combination_reference(sim):
    client = sim_client(sim)
    product_id, combos = next((p, c) for p, c in sim.state.combinations_of.items() if c)
    level = client.stock_level(product_id, combos[0])
    assert level.sku == sim.record("combinations", combos[0])["reference"]
    assert level.quantity == sim.state.stock_row(product_id, combos[0])["quantity"]


# ------------------------------------------------------------------ writes


def test_tracking_number_is_written_and_mailed(sim):
    client = sim_client(sim, send_email=True)
    client.set_tracking_number(2, "1Z999AA10123456784")
    (row,) = [r for r in sim.state.tables["order_carriers"].values() if r["id_order"] == 2]
    assert row["tracking_number"] == "1Z999AA10123456784"
    assert sim.record("orders", 2)["shipping_number"] == "1Z999AA10123456784"
    assert ("in_transit", 2, "1Z999AA10123456784") in sim.state.emails
    method = [m for m, p, q in sim.requests if "/order_carriers/" in p][-1]
    assert method == ("PATCH" if sim.profile.patch else "PUT")


def test_state_change_posts_one_history(sim):
    client = sim_client(sim, send_email=False)
    order_id = 3
    target = 6 if sim.record("orders", order_id)["current_state"] != 6 else 5
    histories = len(sim.state.tables["order_histories"])
    assert client.change_order_state(order_id, target) is not None
    assert client.change_order_state(order_id, target) is None  # already there: no 2nd POST
    assert sim.record("orders", order_id)["current_state"] == target
    assert len(sim.state.tables["order_histories"]) == histories + 1


def test_payment_is_recorded_once(sim):
    client = sim_client(sim)
    order = sim.record("orders", 4)
    payment = Payment(
        id="",
        order_reference=order["reference"],
        amount=Decimal("12.30"),
        currency="EUR",
        method="Bank wire",
        transaction_id=f"ERP-{sim.profile.name}-1",
        paid_at=datetime.now().astimezone(),
    )
    client.record_payment(payment)
    client.record_payment(payment)
    rows = [
        r
        for r in sim.state.tables["order_payments"].values()
        if r["transaction_id"] == payment.transaction_id
    ]
    assert len(rows) == 1
    assert rows[0]["amount"] == "12.300000"
    assert rows[0]["order_reference"] == order["reference"]


def test_stock_of_a_combination_recomputes_the_product_row(sim):
    client = sim_client(sim)
    product_id, combos = next((p, c) for p, c in sim.state.combinations_of.items() if len(c) > 1)
    client.set_stock_quantity(product_id, combos[0], 40)
    client.set_stock_quantity(product_id, combos[1], 2)
    total = sum(sim.state.stock_row(product_id, c)["quantity"] for c in combos)
    assert sim.state.stock_row(product_id, 0)["quantity"] == total
    with pytest.raises(PermanentError) as caught:
        client.set_stock_quantity(product_id, 0, 5)
    assert "has combinations" in str(caught.value)


def test_unchanged_stock_is_not_written(sim):
    client = sim_client(sim)
    product_id = next(p for p in sim.state.product_ids if not sim.state.combinations_of.get(p))
    client.set_stock_quantity(product_id, 0, 11)
    writes = sum(m in ("PUT", "PATCH") for m, _, _ in sim.requests)
    client.set_stock_quantity(product_id, 0, 11)
    assert sum(m in ("PUT", "PATCH") for m, _, _ in sim.requests) == writes


def test_customer_and_address_create_then_update_keep_other_fields(sim):
    client = sim_client(sim)
    created = client.save_customer(
        Customer(email=f"new-{sim.profile.name}@example.com", first_name="Ada", last_name="LOVE")
    )
    customer_id = int(created["id"])
    before = dict(sim.record("customers", customer_id))
    assert before["passwd"]  # required on create, set by the client
    client.save_customer(
        Customer(id=str(customer_id), email=before["email"], first_name="Ada", last_name="KING")
    )
    after = sim.record("customers", customer_id)
    assert after["lastname"] == "KING"
    changed = {k for k in after if after[k] != before[k]}
    assert changed <= {"lastname", "date_upd"}
    address = client.save_address(
        Address(first_name="Ada", last_name="KING", line1="1 Main St", city="Berlin", country="DE"),
        customer_id=customer_id,
    )
    stored = sim.record("addresses", int(address["id"]))
    assert (stored["id_country"], stored["city"], stored["id_customer"]) == (
        1,
        "Berlin",
        customer_id,
    )


def test_unknown_country_is_a_data_error_naming_the_code(sim):
    client = sim_client(sim)
    with pytest.raises(DataError) as caught:
        client.country_id("ZZ")
    assert caught.value.value == "ZZ"


# ------------------------------------------------------------------ permissions and check


def test_check_reports_missing_and_unneeded_permissions(sim):
    sim.add_key(
        KEY_ONLY_ORDERS,
        {"orders": ["GET", "DELETE"], "customers": ["GET"], "order_histories": ["GET"]},
    )
    result = check_connection(
        sim_client(sim).__class__(sim.base_url, KEY_ONLY_ORDERS), flows=["status_back"]
    )
    assert not result.ok
    assert "POST order_histories" in result.missing
    assert "PUT order_carriers" in result.missing
    assert "DELETE orders" in result.unneeded
    assert "GET customers" in result.unneeded
    assert result.version == sim.profile.psws_version


def test_check_is_clean_with_a_full_key(sim):
    result = check_connection(sim_client(sim), flows=["order_to_cash", "inventory"])
    assert result.ok, result.message
    assert result.missing == []


def test_a_method_the_key_lacks_is_an_auth_error(sim):
    sim.add_key(KEY_ONLY_ORDERS, {"orders": ["GET"], "order_payments": ["GET"]})
    client = sim_client(sim).__class__(sim.base_url, KEY_ONLY_ORDERS)
    with pytest.raises(AuthError) as caught:
        client.create("order_payments", {"order_reference": "X", "id_currency": 1, "amount": 1})
    assert "the key may not POST order_payments" in str(caught.value)
    with pytest.raises(AuthError) as caught:
        client.list_records("customers")
    assert "the key may not GET customers" in str(caught.value)


def test_a_wrong_key_is_an_auth_error(sim):
    client = sim_client(sim).__class__(sim.base_url, "X" * 32)
    with pytest.raises(AuthError) as caught:
        client.list_records("orders")
    assert "the key may not GET orders" in str(caught.value)
    assert "refused" in str(caught.value)


def test_stock_rows_cannot_be_created():
    with PrestaShopSimulator(seed=1, version="8") as simulator:
        client = sim_client(simulator)
        with pytest.raises(PermanentError):
            client.create("stock_availables", {"id_product": 1, "quantity": 3})


def test_multistore_shop_parameter():
    with PrestaShopSimulator(seed=2, version="8", shops=2) as simulator:
        simulator.place_order(shop_id=2, when=datetime.now(simulator.state.timezone) - timedelta(1))
        in_shop_2 = sim_client(simulator, id_shop=2).list_records("orders", display="[id,id_shop]")
        assert {int(r["id_shop"]) for r in in_shop_2} == {2}
        everywhere = sim_client(simulator, id_shop="all").list_records("orders", display="[id]")
        assert len(everywhere) == len(simulator.state.tables["orders"])
        with pytest.raises(NotFoundError):
            sim_client(simulator, id_shop=9).list_records("orders")
        assert sim_client(simulator, id_shop=2, id_shop_group=1).list_records("shops")
        assert simulator.requests[-1][2]["id_group_shop"] == "1"


def test_split_orders_share_payments_by_reference(fresh_sim):
    # One cart, two orders, one reference (PaymentModule::validateOrder): a payment row
    # belongs to the reference, so both orders see it; transaction ids tell payments apart.
    first = fresh_sim.place_order(state_id=2)
    second = fresh_sim.place_order(state_id=2, reference=first["reference"])
    client = sim_client(fresh_sim)
    shared = client.payments_of(first["reference"])
    assert len(shared) == 2  # one seeded per paid order, both under the one reference
    assert client.payments_of(second["reference"]) == shared
    payment = Payment(
        id="",
        order_reference=second["reference"],
        amount=Decimal("5"),
        currency="EUR",
        transaction_id="ERP-SPLIT-2",
        paid_at=datetime.now().astimezone(),
    )
    client.record_payment(payment)
    client.record_payment(payment)
    assert len(client.payments_of(first["reference"])) == 3
