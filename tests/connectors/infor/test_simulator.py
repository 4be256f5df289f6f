"""The client over real HTTP against the in-process simulator: auth, errors, faults and the
order-to-cash path, including the failures that must never create a second order."""

import io
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from connectors.canonical import OrderState
from connectors.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connectors.infor import operations, translate
from connectors.infor.client import M3Client
from connectors.infor.mi import MIError
from connectors.infor.orders import BatchOrder, order_place
from connectors.infor.simulator import M3Simulator, cli

from .conftest import OPTIONS


def batch(cuor="PS-000123", cuno="WEB0001", items=("PS-1001", "PS-1002"), note=""):
    return BatchOrder(
        head={"CUNO": cuno, "CUOR": cuor, "ORTP": "WEB", "CUCD": "EUR"},
        lines=[
            {"ITNO": itno, "ORQT": Decimal(i + 1), "SAPR": Decimal("12.50"), "CUPO": i + 1}
            for i, itno in enumerate(items)
        ],
        addresses=[
            {"ADRT": 1, "CUNM": "Jane Doe", "CUA1": "1 Main Street", "TOWN": "Paris", "CSCD": "FR"}
        ],
        texts=[{"TYPE": 1, "TYTR": 1, "PARM": note}] if note else [],
    )


def head_calls(sim):
    return [c for c in sim.state.calls if c["transaction"] == "AddBatchHead"]


# -- auth ---------------------------------------------------------------------------------


def test_connection_check_gets_a_token_and_reads(client, sim):
    result = operations.connection_check(client)
    assert result["ok"] and result["rows"] == 1
    assert result["token_ms"] is not None and result["round_trip_ms"] >= 0
    assert sim.grants["password"] == 1


def test_many_calls_and_clients_share_one_grant(client, sim):
    other = M3Client.from_ionapi(sim.ionapi(), options=dict(OPTIONS))
    for itno in ("PS-1001", "PS-1002", "PS-1003"):
        operations.item_get(client, itno=itno)
        operations.item_get(other, itno=itno)
    assert sim.grants == {"password": 1, "refresh_token": 0}


def test_workers_starting_together_share_one_grant(sim):
    from concurrent.futures import ThreadPoolExecutor

    clients = [M3Client.from_ionapi(sim.ionapi(), options=dict(OPTIONS)) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        items = list(pool.map(lambda c: operations.item_get(c, itno="PS-1001"), clients))
    assert all(item["ITNO"] == "PS-1001" for item in items)
    assert sim.grants["password"] == 1


def test_token_expiring_mid_run_is_refreshed_and_the_call_retried(client, sim):
    operations.item_get(client, itno="PS-1001")
    sim.expire_tokens()  # the gateway now answers 401 to the cached token
    assert operations.item_get(client, itno="PS-1002")["ITNO"] == "PS-1002"
    assert sim.grants == {"password": 1, "refresh_token": 1}
    statuses = [r["status"] for r in sim.requests if "/M3/" in r["path"]]
    assert statuses == [200, 401, 200]


def test_short_lived_tokens_are_refreshed_before_they_expire():
    with M3Simulator(seed=3, token_lifetime=60.3) as sim:
        client = M3Client.from_ionapi(sim.ionapi(), options=dict(OPTIONS))
        operations.item_get(client, itno="PS-1001")
        time.sleep(0.4)  # now within a minute of expiry
        operations.item_get(client, itno="PS-1001")
        assert sim.grants == {"password": 1, "refresh_token": 1}
        assert all(r["status"] == 200 for r in sim.requests)


def test_revoke_on_rotation_ends_the_grant(client, sim):
    operations.item_get(client, itno="PS-1001")
    assert client.tokens.revoke()
    assert sim.revoked and not sim.tokens
    operations.item_get(client, itno="PS-1001")
    assert sim.grants["password"] == 2


def test_wrong_service_account_is_an_auth_error(sim):
    ionapi = {**sim.ionapi(), "sask": "wrong-secret-key"}
    with pytest.raises(AuthError, match="invalid_grant"):
        operations.item_get(M3Client.from_ionapi(ionapi), itno="PS-1001")


def test_token_endpoint_outage_is_transient(sim):
    sim.fail_next(503, token_endpoint=True)
    with pytest.raises(TransientError):
        operations.item_get(M3Client.from_ionapi(sim.ionapi()), itno="PS-1001")


# -- the same reads over v2, v1 and on-premises ----------------------------------------------


@pytest.fixture(params=["cloud-v2", "cloud-v1", "onprem-v2"])
def any_client(request, sim):
    if request.param == "onprem-v2":
        user, password = sim.basic_user, sim.basic_password
        return M3Client(sim.base_url, basic_auth=(user, password))
    version = request.param.split("-")[1]
    return M3Client.from_ionapi(sim.ionapi(), options={**OPTIONS, "api_version": version})


def test_reads_are_trimmed_and_typed_on_every_path(any_client, sim):
    item = operations.item_get(any_client, itno="PS-1001")
    assert item["ITNO"] == "PS-1001"
    assert item["ITDS"] == sim.state.items["PS-1001"]["ITDS"]  # v1 pads, we trim
    assert isinstance(item["NEWE"], Decimal)
    customer = operations.customer_find_by_email(any_client, email="CUSTOMER2@example.com")
    assert customer["CUNO"] == "WEB0002"
    price = operations.item_price(any_client, itno="PS-1001")
    assert price["SAPR"] == Decimal(sim.state.items["PS-1001"]["SAPR"])


def test_mi_errors_name_transaction_field_and_value_on_every_path(any_client):
    with pytest.raises(MIError) as caught:
        operations.item_get(any_client, itno="NOPE-1")
    assert (caught.value.field, caught.value.value) == ("ITNO", "NOPE-1")
    assert "MMS200MI/Get" in str(caught.value) and "does not exist" in str(caught.value)


def test_company_without_authority_is_xau0008_as_in_the_sample(sim):
    client = M3Client.from_ionapi(sim.ionapi(), options={"cono": "0"})
    with pytest.raises(MIError) as caught:
        operations.customer_get(client, cuno="WEB0001")
    assert (caught.value.code, caught.value.field) == ("XAU0008", "CONO")
    assert "Not authorized for company 0" in str(caught.value)


def test_simulator_checks_mandatory_and_length_like_m3(client, sim):
    token = client.tokens.access_token()
    url = f"{sim.base_url}/{sim.tenant}/M3/m3api-rest/v2/execute/OIS100MI/AddBatchHead"
    headers = {"Authorization": f"Bearer {token}"}
    body = requests.get(url, params={"CUOR": "X"}, headers=headers, timeout=5).json()
    result = body["results"][0]
    assert body["nrOfFailedTransactions"] == 1
    assert (result["errorField"], result["errorType"]) == ("CUNO", "MandatoryInputFieldNotFound")
    response = requests.get(
        url, params={"CUNO": "WEB0001", "CUOR": "X" * 21}, headers=headers, timeout=5
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["errorField"] == "CUOR"
    assert response.json()["results"][0]["errorCode"]


# -- gateway errors and faults ----------------------------------------------------------------


def test_wrong_path_and_wrong_method_are_configuration_errors(sim, client):
    wrong = M3Client.from_ionapi({**sim.ionapi(), "ti": "OTHER"})
    wrong.tokens = client.tokens
    with pytest.raises(PermanentError) as caught:
        operations.item_get(wrong, itno="PS-1001")
    assert caught.value.status_code == 404 and caught.value.details["configuration"]
    with pytest.raises(PermanentError) as caught:
        client.request("GET", "m3api-rest/v2/execute")
    assert caught.value.status_code == 405


def test_a_429_storm_is_ridden_out_by_reads_and_surfaces_for_writes(client, sim, sleeps):
    sim.fail_next(429, count=2, retry_after="2")
    assert operations.item_get(client, itno="PS-1001")["ITNO"] == "PS-1001"
    assert sleeps == [2.0, 2.0]
    sim.fail_next(429, count=10, retry_after="1")
    with pytest.raises(RateLimitedError) as caught:
        order_place(client, batch=batch(cuor="PS-STORM"))
    assert caught.value.retry_after == 1
    assert head_calls(sim) == []  # the storm hit the look-up: nothing was written
    sim.faults.clear()
    placed = order_place(client, batch=batch(cuor="PS-STORM"))
    assert placed.created and len(sim.state.orders_for("PS-STORM")) == 1


def test_a_quota_without_retry_after_backs_off(sim):
    sim.set_quota(2, per_seconds=0.3, retry_after=False)
    client = M3Client.from_ionapi(sim.ionapi(), options={**OPTIONS, "safe_retries": 8})
    for itno in ("PS-1001", "PS-1002", "PS-1003", "PS-1004", "PS-1005"):
        assert operations.item_get(client, itno=itno)["ITNO"] == itno
    assert any(r["status"] == 429 for r in sim.requests)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},
        {"kind": "malformed"},
        {"kind": "timeout", "delay": 0.6},
        {"status": 502},
        {"status": 503},
        {"status": 504},
    ],
)
def test_faults_on_a_write_are_transient_and_not_retried(sim, fault):
    client = M3Client.from_ionapi(sim.ionapi(), options={**OPTIONS, "read_timeout": 0.3})
    client.tokens.access_token()
    sim.fail_next(match="CRS610MI/Add", **fault)
    record = {"CUNM": "New Shop Customer", "CUA1": "2 Rue Neuve", "MAIL": "new@example.com"}
    with pytest.raises(TransientError):
        operations.customer_create(client, record=record)
    assert len([r for r in sim.requests if "CRS610MI/Add" in r["path"]]) == 1


def test_faults_on_a_read_are_retried(client, sim):
    sim.fail_next(match="MMS200MI/Get", kind="drop")
    sim.fail_next(502, match="MMS200MI/Get")
    assert operations.item_get(client, itno="PS-1001")["ITNO"] == "PS-1001"


# -- orders: exactly once -------------------------------------------------------------------------


def test_order_goes_in_two_calls_and_a_resend_finds_it(client, sim):
    before = client.stats.calls
    placed = order_place(client, batch=batch(note="Leave at the door"))
    assert placed.created and placed.orno and placed.orno != placed.batch_orno
    assert client.stats.calls - before == 4  # LstBatchHead, LstHead, AddBatchHead, bulk
    order = sim.state.orders[placed.orno]
    assert order.head["CUOR"] == "PS-000123"
    assert [line["ITNO"] for line in order.lines] == ["PS-1001", "PS-1002"]
    assert sim.state.batch_orders[placed.batch_orno].texts[0]["PARM"] == "Leave at the door"
    again = order_place(client, batch=batch())
    assert (again.orno, again.created) == (placed.orno, False)
    assert len(head_calls(sim)) == 1


def test_504_after_m3_confirmed_does_not_create_a_second_order(client, sim):
    sim.fail_next(504, match="OIS100MI/Confirm", after_processing=True)
    with pytest.raises(TransientError):
        order_place(client, batch=batch())
    assert len(sim.state.orders_for("PS-000123")) == 1  # M3 did it; the answer was lost
    placed = order_place(client, batch=batch())
    assert not placed.created
    assert len(sim.state.orders_for("PS-000123")) == 1
    assert len(head_calls(sim)) == 1


def test_504_before_the_lines_resumes_with_the_same_batch_head(client, sim):
    sim.fail_next(504, match="/v2/execute?")  # the bulk POST, refused before M3 saw it
    with pytest.raises(TransientError):
        order_place(client, batch=batch())
    assert sim.state.orders == {}
    placed = order_place(client, batch=batch())
    assert placed.created and placed.resumed and "resume" in placed.steps
    assert len(head_calls(sim)) == 1
    assert len(sim.state.batch_orders_for("PS-000123")) == 1


def test_lost_answer_to_the_head_resumes_from_the_head(client, sim):
    sim.fail_next(504, match="AddBatchHead", after_processing=True)
    with pytest.raises(TransientError):
        order_place(client, batch=batch())
    placed = order_place(client, batch=batch())
    assert placed.resumed and len(head_calls(sim)) == 1
    assert len(sim.state.orders_for("PS-000123")) == 1


def test_interrupted_multi_call_bulk_adds_only_the_missing_lines(sim):
    client = M3Client.from_ionapi(sim.ionapi(), options={**OPTIONS, "bulk_max": 5})
    items = [f"PS-{1001 + i}" for i in range(12)]
    # 1 address + 12 lines + Confirm = 3 bulk calls; the 2nd is processed, its answer dropped
    sim.fail_next(kind="drop", match="/v2/execute?", after_processing=True, skip=1)
    with pytest.raises(TransientError):
        order_place(client, batch=batch(items=items))
    batch_order = sim.state.batch_orders_for("PS-000123")[0]
    assert len(batch_order.lines) == 9  # 4 lines in call 1, 5 in call 2
    placed = order_place(client, batch=batch(items=items))
    assert placed.created and placed.resumed
    cupos = [line["CUPO"] for line in batch_order.lines]
    assert sorted(cupos, key=int) == [str(i) for i in range(1, 13)]
    assert len(sim.state.orders_for("PS-000123")) == 1
    assert len(sim.state.orders[placed.orno].lines) == 12


@pytest.mark.parametrize("search", ["", 'CUOR:"{cuor}"'])
def test_order_is_found_among_real_orders_once_batch_heads_are_gone(sim, search):
    client = M3Client.from_ionapi(sim.ionapi(), options={**OPTIONS, "order_search_query": search})
    placed = order_place(client, batch=batch())
    sim.state.batch_orders.clear()  # batch orders purged after release
    again = order_place(client, batch=batch())
    assert (again.orno, again.created) == (placed.orno, False)
    used = {c["transaction"] for c in sim.state.calls}
    assert ("SearchHead" in used) == bool(search)


def test_rotating_credentials_revokes_the_old_grant(sim):
    from connectors.infor.auth import connection_token_revoke
    from connectors.models import Connection

    conn = Connection(pk=9, system="infor_m3", name="m3", kind="cloud", credentials=sim.ionapi())
    client = M3Client.from_connection(conn)
    operations.item_get(client, itno="PS-1001")
    old = dict(conn.credentials)
    conn.credentials = {**old, "cn": "rotated"}
    assert connection_token_revoke(conn, credentials=old)
    assert not sim.tokens and sim.revoked


def test_unknown_item_stops_the_batch_order_with_a_permanent_error(client, sim):
    with pytest.raises(MIError) as caught:
        order_place(client, batch=batch(items=("PS-1001", "NO-SUCH-9")))
    error = caught.value
    assert isinstance(error, PermanentError)
    assert (error.field, error.value) == ("ITNO", "NO-SUCH-9")
    assert "line 2 ITNO 'NO-SUCH-9'" in str(error)
    assert "status 25" in str(error) and "does not exist in warehouse" in str(error)
    assert sim.state.orders == {}
    with pytest.raises(MIError, match="NO-SUCH-9"):  # a retry explains again, adds nothing
        order_place(client, batch=batch(items=("PS-1001", "NO-SUCH-9")))
    assert len(head_calls(sim)) == 1


def test_stopped_order_goes_through_once_the_item_exists_in_m3(client, sim):
    with pytest.raises(MIError):
        order_place(client, batch=batch(items=("PS-1001", "NEW-ITEM")))
    sim.state.items["NEW-ITEM"] = {**sim.state.items["PS-1001"], "ITNO": "NEW-ITEM"}
    sim.state.balances[("100", "NEW-ITEM")] = dict(sim.state.balances[("100", "PS-1001")])
    placed = order_place(client, batch=batch(items=("PS-1001", "NEW-ITEM")))
    assert placed.created and placed.resumed and "resume" in placed.steps
    assert len(head_calls(sim)) == 1 and len(sim.state.orders_for("PS-000123")) == 1


def test_stopped_order_is_replaced_when_the_fix_changed_its_lines(client, sim):
    with pytest.raises(MIError):
        order_place(client, batch=batch(items=("PS-1001", "WRONG-MAP")))
    placed = order_place(client, batch=batch(items=("PS-1001", "PS-1003")))  # mapping fixed
    assert placed.created and "replace" in placed.steps
    assert len(sim.state.batch_orders_for("PS-000123")) == 1  # the stuck one was deleted
    assert [line["ITNO"] for line in sim.state.orders[placed.orno].lines] == ["PS-1001", "PS-1003"]


def test_unknown_customer_and_credit_stop_are_explained(client, sim):
    with pytest.raises(MIError, match="status 15"):
        order_place(client, batch=batch(cuor="PS-X1", cuno="NOBODY"))
    sim.state.credit_stopped.add("WEB0003")
    with pytest.raises(MIError, match="status 30 \\(credit stopped\\)"):
        order_place(client, batch=batch(cuor="PS-X2", cuno="WEB0003"))


# -- order to cash ------------------------------------------------------------------------------------


def test_order_progresses_to_shipment_invoice_and_payment(client, sim):
    placed = order_place(client, batch=batch())
    head = operations.order_get(client, orno=placed.orno)
    assert (head["ORSL"], head["ORST"]) == ("22", "22")
    stock_before = operations.stock_balances(client, items=["PS-1001"], warehouses=["100"])[0]
    sim.state.advance(10)  # allocation
    head = operations.order_get(client, orno=placed.orno)
    assert (head["ORSL"], head["ORST"]) == ("33", "33")
    allocated = operations.stock_balances(client, items=["PS-1001"], warehouses=["100"])[0]
    assert allocated[0]["ALQT"] == stock_before[0]["ALQT"] + 1
    assert operations.deliveries_for_order(client, orno=placed.orno) == []
    sim.state.advance(170)  # picked and delivered
    head = operations.order_get(client, orno=placed.orno)
    assert translate.order_state(head) is OrderState.SHIPPED
    lines = operations.order_lines(client, orno=placed.orno)
    assert all(line["ORST"] == "66" and line["DLQT"] == line["ORQT"] for line in lines)
    [delivery] = operations.deliveries_for_order(client, orno=placed.orno)
    shipment = translate.delivery_to_shipment(
        delivery, order_reference="PS-000123", erp_order_id=placed.orno
    )
    assert shipment.tracking_number.startswith("SIM")
    assert {(line.sku, line.quantity) for line in shipment.lines} == {
        ("PS-1001", 1),
        ("PS-1002", 2),
    }
    sim.state.advance(60)  # invoiced
    assert (
        translate.order_state(operations.order_get(client, orno=placed.orno)) is OrderState.INVOICED
    )
    [invoice_row] = operations.invoices_for_order(client, orno=placed.orno)
    invoice = translate.invoice_from_m3(
        invoice_row, order_reference="PS-000123", erp_order_id=placed.orno
    )
    assert invoice.total_tax_excl == Decimal("37.50")
    assert invoice.total == invoice.total_tax_excl + invoice.total_tax
    [open_item] = operations.open_items(client, cuno="WEB0001")
    assert not operations.invoice_is_paid(open_item)
    now = datetime.now(UTC)
    assert (
        translate.payment_from_m3(
            open_item, invoice=invoice_row, order_reference="PS-000123", detected_at=now
        )
        is None
    )
    sim.state.advance(60)  # paid
    [open_item] = operations.open_items(client, cuno="WEB0001")
    assert operations.invoice_is_paid(open_item)
    payment = translate.payment_from_m3(
        open_item, invoice=invoice_row, order_reference="PS-000123", detected_at=now
    )
    assert (payment.amount, payment.currency, payment.invoice_number) == (
        invoice.total,
        "EUR",
        invoice.number,
    )
    assert operations.open_items(client, cuno="WEB0001", only_open=True) == []


def test_customer_created_from_template_and_found_by_email(client, sim):
    from connectors.canonical import Customer

    shop = Customer(
        email="Zoe@Example.com",
        first_name="Zoe",
        last_name="Martin",
        language="fr",
        addresses=[{"line1": "3 Quai Nord", "city": "Lyon", "postcode": "69001", "country": "FR"}],
    )
    assert operations.customer_find_by_email(client, email=shop.email) is None
    cuno = operations.customer_create(client, record=translate.customer_to_m3(shop))
    assert sim.state.customers[cuno]["ORTP"] == "WEB"  # defaults from template WEBTMPL
    found = operations.customer_find_by_email(client, email="zoe@example.com")
    assert found["CUNO"] == cuno
    operations.customer_update(client, cuno=cuno, record={"PHNO": "0472000000"})
    row = operations.customer_get(client, cuno=cuno)
    back = translate.customer_from_m3(row)
    assert (back.email, back.phone, back.addresses[0].city) == (
        "zoe@example.com",
        "0472000000",
        "Lyon",
    )
    operations.customer_address_add(
        client,
        cuno=cuno,
        record={
            "ADRT": 1,
            "ADID": "SHOP1",
            "CUA1": "3 Quai Nord",
            "PONO": "69001",
            "CSCD": "FR",
            "TOWN": "Lyon",
        },
    )
    assert [a["ADID"] for a in operations.customer_addresses(client, cuno=cuno)] == ["SHOP1"]


def test_missing_template_is_a_clear_error(sim):
    client = M3Client.from_ionapi(sim.ionapi(), options={"customer_template": "NOPE"})
    with pytest.raises(MIError) as caught:
        operations.customer_create(client, record={"CUNM": "A", "CUA1": "B"})
    assert (caught.value.field, caught.value.value) == ("CUTM", "NOPE")


def test_items_changed_and_stock_levels(client, sim):
    changed = operations.items_changed(client, since=datetime(2024, 1, 1).date())
    assert len(changed) == len(sim.state.items)
    found, failed = operations.stock_balances(client, items=["PS-1001", "PS-1002"])
    levels = translate.balances_to_stock(found, available_field="AV01", as_of=datetime.now(UTC))
    assert [lvl.sku for lvl in levels] == ["PS-1001", "PS-1002"]
    assert levels[0].quantity == sim.state.balances[("100", "PS-1001")]["STQT"]
    assert failed == []


# -- CLI ------------------------------------------------------------------------------------------------


def test_cli_writes_an_ionapi_file_that_works(tmp_path, monkeypatch):
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    options = vars(parser.parse_args(["--write-ionapi", str(tmp_path / "sim.ionapi")]))
    options.update(seed=5, host="127.0.0.1", port=0)
    seen = {}

    def stop_after_check(_seconds):
        ionapi = json.loads((tmp_path / "sim.ionapi").read_text())
        seen["item"] = operations.item_get(M3Client.from_ionapi(ionapi), itno="PS-1001")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", stop_after_check)
    out = io.StringIO()
    cli.run(options, out)
    assert "M3 simulator" in out.getvalue() and "sim.ionapi" in out.getvalue()
    assert seen["item"]["ITNO"] == "PS-1001"
