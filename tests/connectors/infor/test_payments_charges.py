"""Payments through ARS040MI payment batches and charges on OIS100MI batch orders: unit tests
with `responses` (v2 envelopes of the reference pack) and over real HTTP against the
in-process simulator, including the failures that must never post a payment or add a
charge twice."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
import responses

from connectors.canonical import Order, Payment
from connectors.catalog import FieldType
from connectors.errors import DataError, PermanentError, TransientError
from connectors.infor import operations, translate
from connectors.infor.catalog import check_input, transaction
from connectors.infor.client import M3Client
from connectors.infor.mi import MIError
from connectors.infor.orders import BatchOrder, order_place
from connectors.infor.payments import (
    payment_batch_id,
    payment_invoice,
    payment_is_posted,
    payment_record,
)
from connectors.infor.settings import M3Settings
from connectors.infor.simulator import M3Simulator

from .conftest import OPTIONS

PU = "https://sso.example.com/T1/as/"
API = "https://ionapi.example.com/T1/M3/m3api-rest/v2/execute"
IONAPI = {
    "ti": "T1",
    "ci": "T1~client",
    "cs": "client-secret-value",
    "iu": "https://ionapi.example.com",
    "pu": PU,
    "ot": "token.oauth2",
    "or": "revoke_token.oauth2",
    "saak": "T1#service-access-key",
    "sask": "service-secret-key",
}
PAYMENT_OPTIONS = {**OPTIONS, "payment_batch_type": "WB", "shipping_charge": "FRT"}


def envelope(transaction_name, records=None, *, error=None):
    """A v2 answer (reference §3.3); `error` = (code, field, message) of a NOK result."""
    if error:
        code, field, message = error
        result = {
            "transaction": transaction_name,
            "errorMessage": message,
            "errorType": "ServerReturnedNOK",
            "errorCode": code,
            "errorCfg": "",
            "errorField": field,
        }
    else:
        result = {"transaction": transaction_name, "records": records or []}
    return {
        "results": [result],
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": 0 if error else 1,
        "nrOfFailedTransactions": 1 if error else 0,
    }


def payment(**overrides):
    data = {
        "id": "123",
        "order_reference": "PS-000123",
        "invoice_number": "7001",
        "amount": "36.00",
        "currency": "EUR",
        "method": "Bank wire",
        "transaction_id": "ERP-PAY-000123",
        "paid_at": datetime(2024, 2, 1, 10, 0, tzinfo=UTC),
        **overrides,
    }
    return Payment.model_validate(data)


def batch_of(p=None, *, cino="7001", inyr="2024", cuno="WEB0001"):
    settings = M3Settings.from_mapping(PAYMENT_OPTIONS)
    return translate.payment_to_m3(
        p or payment(), cuno=cuno, cino=cino, inyr=inyr, settings=settings
    )


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(PU + "token.oauth2", json={"access_token": "tok-1", "expires_in": 3600})
        yield mock


def unit_client(**options):
    return M3Client.from_ionapi(IONAPI, options={**PAYMENT_OPTIONS, **options}, sleep=lambda s: 0)


def called(rsps):
    return [c.request.url.split("/execute/")[1].split("?")[0] for c in rsps.calls[1:]]


# -- catalog and translation ----------------------------------------------------------------


def test_payment_transactions_are_in_the_catalog_with_reference_fields():
    head = transaction("ARS040MI", "AddBatchHead").inputs
    assert head.get("PBID").required and head.get("PBID").type is FieldType.NUMBER
    assert head.get("PBID").max_length == 10 and head.get("BOPE").required
    line = transaction("ARS040MI", "AddBatchLine").inputs
    required = {f.name for f in line.fields if f.required}
    assert required == {"PBID", "TRNO", "CINO", "INYR", "CUNO", "PYAM"}  # reference §4.5
    assert line.get("CINO").max_length == 15 and line.get("LPDT").type is FieldType.DATE
    assert transaction("ARS040MI", "ControlBatch") is not None
    charge = transaction("OIS100MI", "AddBatchCharge").inputs
    assert charge.get("CRID").required and "[D]" in charge.get("CRID").description


def test_payment_becomes_one_batch_head_and_line():
    batch = batch_of()
    assert batch.head == {"PBID": "9000000123", "BOPE": "WB", "DIVI": None}
    assert batch.line == {
        "PBID": "9000000123",
        "TRNO": 1,
        "CINO": "7001",
        "INYR": "2024",
        "CUNO": "WEB0001",
        "PYAM": Decimal("36.00"),
        "CUCD": "EUR",
        "LPDT": date(2024, 2, 1),
        "DIVI": None,
    }
    sent = check_input("ARS040MI", "AddBatchLine", batch.line)
    assert (sent["PYAM"], sent["LPDT"]) == ("36", "20240201")


def test_payment_batch_id_is_stable_and_bounded():
    assert payment_batch_id("123") == payment_batch_id(123) == "9000000123"
    assert payment_batch_id("42", prefix="77") == "7700000042"
    for bad in ("PAY-1", "1234567890", ""):
        with pytest.raises(DataError) as caught:
            payment_batch_id(bad)
        assert caught.value.field == "PBID"


def test_payment_translation_names_missing_options_and_bad_amounts():
    settings = M3Settings()  # no payment_batch_type
    with pytest.raises(DataError, match="payment_batch_type"):
        translate.payment_to_m3(payment(), cuno="C", cino="1", inyr=2024, settings=settings)
    with pytest.raises(DataError) as caught:
        batch_of(payment(amount="0"))
    assert caught.value.field == "amount"


def test_catalog_refuses_a_bad_payment_line_before_any_call(rsps):
    client = unit_client()
    line = {**batch_of().line, "CINO": "X" * 16}
    with pytest.raises(DataError, match="CINO"):
        client.execute("ARS040MI", "AddBatchLine", line)
    with pytest.raises(DataError, match="mandatory field PYAM"):
        client.execute("ARS040MI", "AddBatchLine", {**batch_of().line, "PYAM": None})
    assert len(rsps.calls) == 0


# -- payment_record with recorded-shape answers ------------------------------------------------

OPEN_ITEM = {"CUNO": "WEB0001", "CINO": "7001", "INYR": "2024", "RECO": "0", "DUDT": "20240301"}


def test_a_settled_invoice_is_not_paid_again(rsps):
    rsps.get(
        f"{API}/ARS200MI/LstInvoices", json=envelope("LstInvoices", [{**OPEN_ITEM, "RECO": "9"}])
    )
    posted = payment_record(unit_client(), batch=batch_of())
    assert (posted.created, posted.already_paid) == (False, True)
    assert called(rsps) == ["ARS200MI/LstInvoices"]


def test_payment_is_posted_head_line_control(rsps):
    rsps.get(f"{API}/ARS200MI/LstInvoices", json=envelope("LstInvoices", [OPEN_ITEM]))
    rsps.get(
        f"{API}/ARS040MI/AddBatchHead", json=envelope("AddBatchHead", [{"PBID": "9000000123"}])
    )
    rsps.get(f"{API}/ARS040MI/AddBatchLine", json=envelope("AddBatchLine"))
    rsps.get(f"{API}/ARS040MI/ControlBatch", json=envelope("ControlBatch"))
    posted = payment_record(unit_client(), batch=batch_of())
    assert posted.created and not posted.resumed
    assert called(rsps) == [
        "ARS200MI/LstInvoices",
        "ARS040MI/AddBatchHead",
        "ARS040MI/AddBatchLine",
        "ARS040MI/ControlBatch",
    ]
    line_call = rsps.calls[3].request
    assert "PYAM=36" in line_call.url and "LPDT=20240201" in line_call.url
    assert "TRNO=1" in line_call.url and "CINO=7001" in line_call.url


def test_a_resent_payment_meets_its_own_batch_and_adds_nothing(rsps):
    rsps.get(f"{API}/ARS200MI/LstInvoices", json=envelope("LstInvoices", [OPEN_ITEM]))
    exists = ("XRE0104", "PBID", "Payment batch 9000000123 already exists")
    rsps.get(f"{API}/ARS040MI/AddBatchHead", json=envelope("AddBatchHead", error=exists))
    line_exists = ("XRE0104", "TRNO", "Transaction 1 already exists")
    rsps.get(f"{API}/ARS040MI/AddBatchLine", json=envelope("AddBatchLine", error=line_exists))
    rsps.get(f"{API}/ARS040MI/ControlBatch", json=envelope("ControlBatch"))
    posted = payment_record(unit_client(), batch=batch_of())
    assert (posted.created, posted.resumed) == (False, True)
    assert posted.steps == ["open-item", "head-exists", "line-exists", "control"]


def test_an_unknown_mi_error_stops_the_payment_naming_the_field(rsps, tmp_path):
    rsps.get(f"{API}/ARS200MI/LstInvoices", json=envelope("LstInvoices", [OPEN_ITEM]))
    # the reference's error shape (m3-v2-error.derived.json) on the head
    denied = ("XAU0008", "CONO", "Not authorized for company 0")
    rsps.get(f"{API}/ARS040MI/AddBatchHead", json=envelope("AddBatchHead", error=denied))
    with pytest.raises(MIError) as caught:
        payment_record(unit_client(), batch=batch_of())
    assert isinstance(caught.value, PermanentError)
    assert (caught.value.field, caught.value.code) == ("CONO", "XAU0008")
    assert called(rsps) == ["ARS200MI/LstInvoices", "ARS040MI/AddBatchHead"]


def test_duplicate_codes_are_an_option(rsps):
    rsps.get(f"{API}/ARS200MI/LstInvoices", json=envelope("LstInvoices", [OPEN_ITEM]))
    exists = ("WPB0001", "PBID", "Batch already exists")
    rsps.get(f"{API}/ARS040MI/AddBatchHead", json=envelope("AddBatchHead", error=exists))
    with pytest.raises(MIError):
        payment_record(unit_client(), batch=batch_of())
    rsps.get(f"{API}/ARS040MI/AddBatchLine", json=envelope("AddBatchLine"))
    rsps.get(f"{API}/ARS040MI/ControlBatch", json=envelope("ControlBatch"))
    posted = payment_record(
        unit_client(payment_duplicate_codes="WPB0001,XRE0104"), batch=batch_of()
    )
    assert posted.resumed and posted.created


def test_an_invoice_not_yet_in_receivables_is_retried_later(rsps):
    rsps.get(f"{API}/ARS200MI/LstInvoices", json=envelope("LstInvoices", []))
    with pytest.raises(TransientError) as caught:
        payment_record(unit_client(), batch=batch_of())
    assert caught.value.retry_after and caught.value.field == "CINO"


# -- over HTTP against the simulator ---------------------------------------------------------


@pytest.fixture
def psim():
    # Orders are invoiced after 240 simulated seconds; the simulator's own "customer paid"
    # step is pushed out of reach so only ARS040MI can settle an invoice.
    with M3Simulator(seed=5, progress={"pay": 10**9}) as simulator:
        yield simulator


@pytest.fixture
def pclient(psim):
    c = M3Client.from_ionapi(psim.ionapi(), options=dict(PAYMENT_OPTIONS))
    yield c
    c.close()


def simple_batch(cuor="PS-000123", charges=None, items=("PS-1001", "PS-1002")):
    return BatchOrder(
        head={"CUNO": "WEB0001", "CUOR": cuor, "ORTP": "WEB", "CUCD": "EUR"},
        lines=[
            {"ITNO": itno, "ORQT": Decimal(1), "SAPR": Decimal("10.00"), "CUPO": i + 1}
            for i, itno in enumerate(items)
        ],
        addresses=[
            {"ADRT": 1, "CUNM": "Jane Doe", "CUA1": "1 Main Street", "TOWN": "Paris", "CSCD": "FR"}
        ],
        charges=list(charges or []),
    )


def invoiced_order(client, sim, cuor="PS-000123"):
    placed = order_place(client, batch=simple_batch(cuor))
    sim.state.advance(250)  # allocated, picked, delivered, invoiced
    [invoice] = operations.invoices_for_order(client, orno=placed.orno)
    return placed, invoice


def payment_lines(sim):
    return [
        c
        for c in sim.state.calls
        if c["transaction"] == "AddBatchLine" and c["program"] == "ARS040MI"
    ]


def test_payment_settles_the_invoice_in_open_items(pclient, psim):
    placed, invoice = invoiced_order(pclient, psim)
    target = payment_invoice(pclient, orno=placed.orno)
    assert target["CINO"] == str(invoice["IVNO"])
    p = payment(amount=str(invoice["AMT1"]), invoice_number="")
    batch = translate.payment_to_m3(
        p, cuno=target["CUNO"], cino=target["CINO"], inyr=target["INYR"], settings=pclient.settings
    )
    assert not payment_is_posted(pclient, batch=batch)
    posted = payment_record(pclient, batch=batch)
    assert posted.created and posted.pbid == "9000000123"
    assert payment_is_posted(pclient, batch=batch)
    [item] = operations.open_items(pclient, cuno="WEB0001")
    assert operations.invoice_is_paid(item)
    assert operations.open_items(pclient, cuno="WEB0001", only_open=True) == []
    back = translate.payment_from_m3(
        item, invoice=invoice, order_reference="PS-000123", detected_at=datetime.now(UTC)
    )
    assert back is not None and back.amount == invoice["AMT1"]
    # sending it again writes nothing: the open item is settled
    again = payment_record(pclient, batch=batch)
    assert (again.created, again.already_paid) == (False, True)
    assert len(psim.state.payments_of(target["CINO"])) == 1


@pytest.mark.parametrize("lost", ["AddBatchHead", "AddBatchLine", "ControlBatch"])
def test_a_lost_answer_never_posts_twice(pclient, psim, lost):
    placed, invoice = invoiced_order(pclient, psim)
    target = payment_invoice(pclient, orno=placed.orno)
    batch = translate.payment_to_m3(
        payment(amount="10.00"),  # a part payment: the open item stays open
        cuno=target["CUNO"],
        cino=target["CINO"],
        inyr=target["INYR"],
        settings=pclient.settings,
    )
    psim.fail_next(504, match=f"ARS040MI/{lost}", after_processing=True)
    with pytest.raises(TransientError):
        payment_record(pclient, batch=batch)
    posted = payment_record(pclient, batch=batch)
    assert posted.resumed
    assert len(psim.state.payments_of(target["CINO"])) == 1
    remaining = Decimal(psim.state.invoices[target["CINO"]]["RAFC"])
    assert remaining == invoice["AMT1"] - Decimal("10.00")


def test_a_refused_head_before_processing_is_simply_redone(pclient, psim):
    placed, _ = invoiced_order(pclient, psim)
    target = payment_invoice(pclient, orno=placed.orno)
    batch = translate.payment_to_m3(
        payment(),
        cuno=target["CUNO"],
        cino=target["CINO"],
        inyr=target["INYR"],
        settings=pclient.settings,
    )
    psim.fail_next(503, match="ARS040MI/AddBatchLine")
    with pytest.raises(TransientError):
        payment_record(pclient, batch=batch)
    posted = payment_record(pclient, batch=batch)
    assert posted.steps[1:] == ["head-exists", "line", "control"]
    assert len(psim.state.payments_of(target["CINO"])) == 1


def test_payment_before_the_invoice_waits(pclient, psim):
    placed = order_place(pclient, batch=simple_batch())
    with pytest.raises(TransientError) as caught:
        payment_invoice(pclient, orno=placed.orno)
    assert caught.value.retry_after


def raw_mi(sim, client, program, name, **fields):
    """A transaction sent without the client's catalog check, to see the simulator's own."""
    token = client.tokens.access_token()
    response = requests.get(
        f"{sim.base_url}/{sim.tenant}/M3/m3api-rest/v2/execute/{program}/{name}",
        params=fields,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 200  # MI errors come back with HTTP 200 (§3.5)
    return response.json()


def test_simulator_validates_payment_transactions_like_mi(pclient, psim):
    missing = raw_mi(psim, pclient, "ARS040MI", "AddBatchHead", PBID="9000000001")
    result = missing["results"][0]
    assert missing["nrOfFailedTransactions"] == 1
    assert (result["errorField"], result["errorType"]) == ("BOPE", "MandatoryInputFieldNotFound")
    long = raw_mi(psim, pclient, "ARS040MI", "AddBatchHead", PBID="9000000001", BOPE="TOOLONG")
    assert long["results"][0]["errorType"] == "InputFieldTooLong"
    ok = raw_mi(psim, pclient, "ARS040MI", "AddBatchHead", PBID="9000000001", BOPE="WB")
    assert ok["results"][0]["records"] == [{"PBID": "9000000001"}]
    again = raw_mi(psim, pclient, "ARS040MI", "AddBatchHead", PBID="9000000001", BOPE="WB")
    assert again["results"][0]["errorCode"] == "XRE0104"
    unknown = raw_mi(
        psim,
        pclient,
        "ARS040MI",
        "AddBatchLine",
        PBID="9000000001",
        TRNO="1",
        CINO="404",
        INYR="2024",
        CUNO="WEB0001",
        PYAM="1",
    )
    assert unknown["results"][0]["errorField"] == "CINO"
    empty = raw_mi(psim, pclient, "ARS040MI", "ControlBatch", PBID="9000000001")
    assert empty["results"][0]["errorField"] == "PBID"


# -- order charges ---------------------------------------------------------------------------


def charge_calls(sim):
    return [c for c in sim.state.calls if c["transaction"] in ("AddBatchCharge", "LstBatchCharge")]


def test_order_without_charges_is_placed_exactly_as_before(pclient, psim):
    placed = order_place(pclient, batch=simple_batch())
    assert "charges" not in placed.steps and charge_calls(psim) == []
    order = psim.state.orders[placed.orno]
    assert order.charges == 0 and order.head["NTAM"] == "20"


def test_shipping_charge_is_added_to_the_batch_order(pclient, psim):
    freight = {"CRID": "FRT", "CRAM": Decimal("5.00"), "CUCD": "EUR"}
    placed = order_place(pclient, batch=simple_batch(charges=[freight]))
    assert "charges" in placed.steps
    batch = psim.state.batch_orders[placed.batch_orno]
    assert [(c["CRID"], c["CRAM"]) for c in batch.charges] == [("FRT", "5")]
    assert psim.state.orders[placed.orno].head["NTAM"] == "25"
    psim.state.advance(250)
    [invoice] = operations.invoices_for_order(pclient, orno=placed.orno)
    assert invoice["AMT2"] == Decimal("25")  # the invoice carries the charge
    # the charge goes before the lines, in the same bulk call
    names = [c["transaction"] for c in psim.state.calls]
    assert names.index("AddBatchCharge") < names.index("AddBatchLine")


def test_order_charges_come_from_the_canonical_order_when_asked():
    address = {"line1": "1 Main Street", "city": "Paris", "country": "FR"}
    order = Order.model_validate(
        {
            "id": "1",
            "reference": "PS-1",
            "state": "2",
            "customer": {"email": "jane@example.com"},
            "billing_address": address,
            "shipping_address": address,
            "lines": [{"line_number": 1, "sku": "PS-1001", "quantity": "1", "unit_price": "9"}],
            "currency": "EUR",
            "total_products": "9",
            "total_shipping": "4.50",
            "total_paid": "16.20",
            "placed_at": datetime(2024, 1, 15, tzinfo=UTC),
        }
    )
    settings = M3Settings.from_mapping(PAYMENT_OPTIONS)
    assert translate.order_to_batch(order, cuno="C1", settings=settings).charges == []
    batch = translate.order_to_batch(order, cuno="C1", settings=settings, with_charges=True)
    assert batch.charges == [{"CRID": "FRT", "CRAM": Decimal("4.50"), "CUCD": "EUR"}]
    assert translate.order_charges_to_m3(order, settings=M3Settings()) == []  # no code set


def test_unknown_charge_code_is_an_mi_error_naming_the_field(pclient, psim):
    with pytest.raises(MIError) as caught:
        order_place(pclient, batch=simple_batch(charges=[{"CRID": "XXX", "CRAM": "1"}]))
    assert caught.value.field == "CRID"
    assert psim.state.orders == {}


def test_charge_without_code_is_refused_before_writing(pclient, psim):
    with pytest.raises(DataError, match="no charge code"):
        order_place(pclient, batch=simple_batch(charges=[{"CRAM": "1"}]))


@pytest.mark.parametrize("list_transaction", ["LstBatchCharge", ""])
def test_resume_after_a_lost_bulk_answer_never_adds_a_charge_twice(psim, list_transaction):
    client = M3Client.from_ionapi(
        psim.ionapi(),
        options={**PAYMENT_OPTIONS, "charge_list_transaction": list_transaction},
    )
    freight = {"CRID": "FRT", "CRAM": Decimal("5.00")}
    psim.fail_next(kind="drop", match="/v2/execute?", after_processing=True)
    with pytest.raises(TransientError):
        order_place(client, batch=simple_batch(charges=[freight]))
    [batch_order] = psim.state.batch_orders_for("PS-000123")
    assert len(batch_order.charges) == 1  # M3 did it, the answer was lost
    placed = order_place(client, batch=simple_batch(charges=[freight]))
    assert placed.created and placed.resumed
    # with the list: the same batch order, resumed; without: replaced, never guessed about
    assert ("replace" in placed.steps) == (not list_transaction)
    [batch_order] = psim.state.batch_orders_for("PS-000123")
    assert len(batch_order.charges) == 1
    assert psim.state.orders[placed.orno].head["NTAM"] == "25"
    assert ("LstBatchCharge" in [c["transaction"] for c in psim.state.calls]) == bool(
        list_transaction
    )


def test_resume_after_a_split_bulk_adds_only_the_missing_charge(psim):
    # bulk_max 2: [address, FRT] goes in call 1 and is processed, call 2 [HAN, line] is lost
    # before M3 sees it; only the charge list can tell which charge is missing.
    client = M3Client.from_ionapi(psim.ionapi(), options={**PAYMENT_OPTIONS, "bulk_max": 2})
    charges = [{"CRID": "FRT", "CRAM": "5"}, {"CRID": "HAN", "CRAM": "2"}]
    psim.fail_next(503, match="/v2/execute?", skip=1)
    with pytest.raises(TransientError):
        order_place(client, batch=simple_batch(charges=charges, items=("PS-1001",)))
    [batch_order] = psim.state.batch_orders_for("PS-000123")
    assert [c["CRID"] for c in batch_order.charges] == ["FRT"]
    placed = order_place(client, batch=simple_batch(charges=charges, items=("PS-1001",)))
    assert sorted(c["CRID"] for c in batch_order.charges) == ["FRT", "HAN"]
    assert psim.state.orders[placed.orno].head["NTAM"] == "17"


def test_stopped_order_with_charges_resumes_without_adding_them_again(pclient, psim):
    charges = [{"CRID": "FRT", "CRAM": "5"}]
    with pytest.raises(MIError):
        order_place(pclient, batch=simple_batch(charges=charges, items=("PS-1001", "NEW-1")))
    psim.state.items["NEW-1"] = {**psim.state.items["PS-1001"], "ITNO": "NEW-1"}
    psim.state.balances[("100", "NEW-1")] = dict(psim.state.balances[("100", "PS-1001")])
    placed = order_place(pclient, batch=simple_batch(charges=charges, items=("PS-1001", "NEW-1")))
    assert placed.resumed
    assert len(psim.state.batch_orders[placed.batch_orno].charges) == 1


def test_unit_charge_call_shape(rsps):
    """The charge rides in the bulk body as a plain transaction record."""
    client = unit_client()
    rsps.get(f"{API}/OIS100MI/LstBatchHead", json=envelope("LstBatchHead", []))
    rsps.get(f"{API}/OIS100MI/LstHead", json=envelope("LstHead", []))
    rsps.get(
        f"{API}/OIS100MI/AddBatchHead", json=envelope("AddBatchHead", [{"ORNO": "1000012345"}])
    )
    bulk = {
        "results": [
            {"transaction": "AddBatchAddress", "records": []},
            {"transaction": "AddBatchCharge", "records": []},
            {"transaction": "AddBatchLine", "records": [{"PONR": "1"}]},
            {"transaction": "Confirm", "records": [{"ORNO": "0000123456", "STAT": "90"}]},
        ],
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": 4,
        "nrOfFailedTransactions": 0,
    }
    first, second = dict(bulk), dict(bulk)
    first["results"], second["results"] = bulk["results"][:2], bulk["results"][2:]
    rsps.post(API, json=first)
    rsps.post(API, json=second)
    placed = order_place(
        client,
        batch=simple_batch(charges=[{"CRID": "FRT", "CRAM": Decimal("5.00")}], items=("PS-1001",)),
    )
    assert placed.orno == "0000123456"
    bodies = [json.loads(c.request.body) for c in rsps.calls if c.request.url.startswith(API + "?")]
    # charges in a call before the one carrying Confirm: a refused charge stops the order
    assert [[t["transaction"] for t in b["transactions"]] for b in bodies] == [
        ["AddBatchAddress", "AddBatchCharge"],
        ["AddBatchLine", "Confirm"],
    ]
    assert bodies[0]["transactions"][1]["record"] == {
        "CRID": "FRT",
        "CRAM": "5",
        "ORNO": "1000012345",
    }


# -- ION-style BOD notifications (optional simulator feature) ---------------------------------


@pytest.fixture
def receiver():
    """A tiny HTTP endpoint recording what it is sent."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body.decode()})
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/infor", received
    server.shutdown()
    server.server_close()


def test_bods_are_off_by_default(sim):
    assert sim.notifier is None and sim.state.listeners == []


def test_status_changes_are_posted_as_signed_bods(receiver):
    import base64

    from standardwebhooks.webhooks import Webhook

    from connectors.infor.bod import parse_sync_sales_order

    url, received = receiver
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    with M3Simulator(seed=2, bod_url=url, bod_secret=secret, progress={"pay": 10**9}) as sim:
        client = M3Client.from_ionapi(sim.ionapi(), options=dict(PAYMENT_OPTIONS))
        placed = order_place(client, batch=simple_batch())
        sim.state.advance(250)
        sim.notifier.flush()
        deliveries = list(sim.notifier.sent)
    assert [d.response_status for d in deliveries] == [202] * len(deliveries)
    assert len(received) == len(deliveries)
    nouns = [d.noun for d in deliveries]
    assert nouns.count("SalesOrder") == 5  # released, 33, 44, 66, 77
    assert "Shipment" in nouns and "Invoice" in nouns
    verifier = Webhook(secret)
    for item in received:
        headers = {k.lower(): v for k, v in item["headers"].items()}
        assert headers["content-type"] == "application/xml"
        verifier.verify(item["body"], headers, json_parse=False)  # raises on a bad signature
    orders = [parse_sync_sales_order(r["body"]) for r in received if "<SyncSalesOrder" in r["body"]]
    assert {o["orno"] for o in orders} == {placed.orno}
    assert [o["lines"][0]["status"] for o in orders] == ["22", "33", "44", "66", "77"]
    assert orders[0]["cuor"] == "PS-000123" and orders[-1]["status"] == "Invoiced"
    assert len({o["bod_id"] for o in orders}) == 5
    shipment = next(r["body"] for r in received if "<SyncShipment" in r["body"])
    assert "<TrackingID>SIM" in shipment
    with pytest.raises(ValueError, match="secret"):
        M3Simulator(bod_url=url).start()
