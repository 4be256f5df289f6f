"""Faults over real HTTP: 429, 5xx, timeouts, dropped connections, malformed bodies, and the
two write rules: no POST duplicated by a retry, no PUT wiping a field it did not mean to."""

from datetime import datetime
from decimal import Decimal

import pytest
import responses

from connectors.canonical import Customer, Payment
from connectors.errors import DataError, PermanentError, RateLimitedError, TransientError
from connectors.prestashop.simulator import Faults, PrestaShopSimulator

from .conftest import BASE, make_client, sim_client


@pytest.fixture
def sim17():
    with PrestaShopSimulator(seed=5, version="1.7") as simulator:
        yield simulator


def posts(sim, resource):
    return sum(1 for m, p, _ in sim.requests if m == "POST" and p.endswith(resource))


def payment_for(sim, order_id=1, transaction_id="ERP-T-1"):
    return Payment(
        id="",
        order_reference=sim.record("orders", order_id)["reference"],
        amount=Decimal("10"),
        currency="EUR",
        transaction_id=transaction_id,
        paid_at=datetime.now().astimezone(),
    )


def test_429_retry_after_is_honoured(fresh_sim):
    fresh_sim.faults.fail_next("rate_limit", retry_after=2)
    client = sim_client(fresh_sim)
    assert client.get("orders", 1)["id"] == 1
    assert client.sleeps and client.sleeps[0] >= 2
    assert client.limiter is not None


def test_429_without_retries_left_is_a_rate_limited_error(fresh_sim):
    fresh_sim.faults.fail_next("rate_limit", retry_after=3)
    with pytest.raises(RateLimitedError) as caught:
        sim_client(fresh_sim, safe_retries=0).get("orders", 1)
    assert caught.value.retry_after == 3


def test_rate_limit_knob_answers_429_once_the_budget_is_spent():
    with PrestaShopSimulator(seed=1, faults=Faults(rate_limit=1)) as simulator:
        client = sim_client(simulator, safe_retries=0)
        client.get("orders", 1)
        with pytest.raises(RateLimitedError):
            client.get("orders", 1)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient_and_a_get_is_retried(fresh_sim, status):
    fresh_sim.faults.fail_next("error", status=status)
    client = sim_client(fresh_sim)
    assert client.get("orders", 1)["id"] == 1
    fresh_sim.faults.fail_next("error", status=status, count=3)
    with pytest.raises(TransientError) as caught:
        client.get("orders", 1)
    assert caught.value.status_code == status


def test_timeout_is_transient(fresh_sim):
    fresh_sim.faults.timeout_seconds = 1.0
    fresh_sim.faults.fail_next("timeout")
    with pytest.raises(TransientError) as caught:
        sim_client(fresh_sim, read_timeout=0.2, safe_retries=0).get("orders", 1)
    assert "timed out" in str(caught.value)


def test_dropped_connection_is_transient_and_retried(fresh_sim):
    fresh_sim.faults.fail_next("drop")
    assert sim_client(fresh_sim).get("orders", 1)["id"] == 1
    fresh_sim.faults.fail_next("drop")
    with pytest.raises(TransientError):
        sim_client(fresh_sim, safe_retries=0).get("orders", 1)


def test_malformed_body_is_a_data_error(fresh_sim):
    fresh_sim.faults.fail_next("malformed")
    with pytest.raises(DataError) as caught:
        sim_client(fresh_sim).get("orders", 1)
    assert caught.value.field == "body"


def test_runtime_rates_are_settable(fresh_sim):
    client = sim_client(fresh_sim, safe_retries=0)
    fresh_sim.faults.error_rate = 1.0
    with pytest.raises(TransientError):
        client.get("orders", 1)
    fresh_sim.faults.error_rate = 0.0
    fresh_sim.faults.latency = 0.05
    assert client.get("orders", 1)["id"] == 1


def test_a_failed_post_is_not_retried(fresh_sim):
    fresh_sim.faults.fail_next("error", method="POST", status=503)
    client = sim_client(fresh_sim, safe_retries=5)
    before = len(fresh_sim.state.tables["order_payments"])
    with pytest.raises(TransientError):
        client.record_payment(payment_for(fresh_sim))
    assert posts(fresh_sim, "order_payments") == 1
    assert len(fresh_sim.state.tables["order_payments"]) == before


def test_a_lost_answer_then_a_retry_does_not_duplicate_the_payment(fresh_sim):
    # The shop writes the payment, then the answer is lost: the client cannot tell.
    fresh_sim.faults.timeout_seconds = 1.0
    fresh_sim.faults.fail_next("timeout_after_write", method="POST")
    client = sim_client(fresh_sim, read_timeout=0.3, safe_retries=5)
    payment = payment_for(fresh_sim, transaction_id="ERP-LOST-1")
    with pytest.raises(TransientError):
        client.record_payment(payment)
    assert posts(fresh_sim, "order_payments") == 1
    # The pipeline retries the record later: the look-up finds the payment, no second POST.
    client.record_payment(payment)
    assert posts(fresh_sim, "order_payments") == 1
    rows = [
        r
        for r in fresh_sim.state.tables["order_payments"].values()
        if r["transaction_id"] == "ERP-LOST-1"
    ]
    assert len(rows) == 1


@responses.activate
def test_post_timeouts_are_never_retried_even_with_retries_configured():
    import requests

    responses.get(f"{BASE}/orders/7", json={"orders": [{"id": 7, "current_state": 1}]})
    responses.post(f"{BASE}/order_histories", body=requests.ReadTimeout("slow"))
    with pytest.raises(TransientError):
        make_client(safe_retries=5).change_order_state(7, 2)
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]


def test_put_is_retried_on_5xx_and_applied_once(sim17):
    sim17.faults.fail_next("error", method="PUT")
    client = sim_client(sim17)
    client.set_tracking_number(1, "TRACK-RETRY")
    assert sum(1 for m, p, _ in sim17.requests if m == "PUT") == 2
    (row,) = [r for r in sim17.state.tables["order_carriers"].values() if r["id_order"] == 1]
    assert row["tracking_number"] == "TRACK-RETRY"


def test_read_modify_write_put_keeps_every_other_field(sim17):
    client = sim_client(sim17)
    customer = sim17.record("customers", 2)
    customer.update(
        {"birthday": "1980-02-03", "newsletter": 1, "note": "VIP", "website": "https://x.example"}
    )
    before = dict(customer)
    client.save_customer(
        Customer(
            id="2",
            email=before["email"],
            first_name=before["firstname"],
            last_name="RENAMED",
            company=before["company"],
        )
    )
    after = sim17.record("customers", 2)
    assert [m for m, p, _ in sim17.requests if "/customers/" in p] == ["GET", "PUT"]
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"lastname", "date_upd"}
    assert after["birthday"] == "1980-02-03" and after["note"] == "VIP"


def test_a_naive_put_would_have_wiped_fields(sim17):
    # Why read-modify-write: the simulator resets what a PUT leaves out, as PrestaShop does.
    client = sim_client(sim17)
    row = next(r for r in sim17.state.tables["order_carriers"].values() if r["id_order"] == 3)
    body = (
        f"<prestashop><order_carrier><id>{row['id']}</id><id_order>3</id_order>"
        f"<id_carrier>{row['id_carrier']}</id_carrier><tracking_number>T</tracking_number>"
        "</order_carrier></prestashop>"
    ).encode()
    from connectors.prestashop.resources import ORDER_CARRIERS

    client.call("PUT", ORDER_CARRIERS, row["id"], body=body)
    stored = sim17.state.tables["order_carriers"][row["id"]]
    assert stored["shipping_cost_tax_incl"] == "0.000000"  # wiped


def test_patch_on_8_sends_only_the_changed_field(fresh_sim):
    client = sim_client(fresh_sim)
    client.set_tracking_number(1, "PATCHED")
    (method, _, _) = [r for r in fresh_sim.requests if "/order_carriers/" in r[1]][-1]
    assert method == "PATCH"
    (row,) = [r for r in fresh_sim.state.tables["order_carriers"].values() if r["id_order"] == 1]
    assert row["shipping_cost_tax_incl"] != "0.000000"


def test_stock_managed_by_advanced_stock_is_refused(sim17):
    row = sim17.state.stock_row(sim17.state.product_ids[0], 0)
    row["depends_on_stock"] = 1
    with pytest.raises(PermanentError) as caught:
        sim_client(sim17).set_stock_quantity(row["id_product"], 0, 1)
    assert "depends_on_stock" in str(caught.value)


def test_version_is_detected_from_the_psws_header(sim17):
    client = sim_client(sim17)
    assert client.version is None
    client.set_tracking_number(2, "DETECT")
    assert client.version == (1, 7, 8, 8)
    assert not any(m == "PATCH" for m, _, _ in sim17.requests)


def test_version_detection_on_8_switches_to_patch(fresh_sim):
    client = sim_client(fresh_sim)
    assert client.version is None
    client.update("order_carriers", 2, {"tracking_number": "DETECT-8"})
    methods = [m for m, p, _ in fresh_sim.requests if "/order_carriers/" in p]
    assert methods == ["GET", "PATCH"]  # one GET taught the version; PATCH, not PUT
    client.update("order_carriers", 2, {"tracking_number": "DETECT-9"})
    methods = [m for m, p, _ in fresh_sim.requests if "/order_carriers/" in p]
    assert methods == ["GET", "PATCH", "PATCH"]


@responses.activate
@pytest.mark.parametrize(
    ("code", "error", "calls"),
    [("133", PermanentError, 1), ("127", PermanentError, 1), ("2", TransientError, 3)],
)
def test_500_codes_that_no_retry_can_fix_are_permanent(code, error, calls):
    body = (
        f"<prestashop><errors><error><code><![CDATA[{code}]]></code>"
        f"<message><![CDATA[boom {code}]]></message></error></errors></prestashop>"
    )
    responses.get(f"{BASE}/stock_availables/4", body=body, status=500)
    with pytest.raises(error) as caught:
        make_client(safe_retries=2).get("stock_availables", 4)
    assert not isinstance(caught.value, TransientError) or calls == 3
    assert f"[{code}] boom {code}" in str(caught.value)
    assert "stock_availables/4" in str(caught.value)
    assert len(responses.calls) == calls


def test_check_with_a_refused_key_is_not_ok(fresh_sim):
    from connectors.prestashop.check import check_connection
    from connectors.prestashop.client import PrestaShopClient

    result = check_connection(PrestaShopClient(fresh_sim.base_url, "Y" * 32))
    assert not result.ok
    assert "the key may not GET" in result.message


def test_invoices_translate_with_the_order_currency(fresh_sim):
    from connectors.prestashop import translate

    client = sim_client(fresh_sim)
    (row,) = client.list_records("order_invoices", limit=1)
    order = fresh_sim.record("orders", int(row["id_order"]))
    invoice = translate.invoice_from_wire(
        row, client.context(), order_reference=order["reference"], currency="EUR"
    )
    assert invoice.number == str(order["invoice_number"])
    assert invoice.total == Decimal(order["total_paid_tax_incl"])
    assert invoice.total_tax == Decimal(order["total_paid_tax_incl"]) - Decimal(
        order["total_paid_tax_excl"]
    )
