"""The simulator's own behaviour: auth modes, idempotency keys, knobs, the changed profile."""

import argparse
import io
import json
from datetime import UTC, datetime

import pytest
import requests
from django.core.management.base import CommandError

from connectors.errors import AuthError, DataError, RateLimitedError
from connectors.tims.client import TimsClient
from connectors.tims.profile import Operation, TimsProfile
from connectors.tims.simulator import TimsSimulator, cli
from connectors.tims.simulator.state import SimState

from .conftest import CHANGED_PROFILE, fast_options
from .test_contract import ORDER


def _client(sim: TimsSimulator, **options) -> TimsClient:
    return TimsClient(
        sim.client_profile(),
        sim.credentials.as_dict(),
        options=fast_options(**options),
        sleep=lambda s: None,
    )


def test_bearer_token_is_cached_and_renewed_after_a_401():
    with TimsSimulator(seed=1) as sim:
        client = _client(sim)
        for _ in range(3):
            client.get_item("CYL-CO2-50")
        assert client.token.grants == 1
        sim.app.revoke_tokens()
        assert client.get_item("CYL-CO2-50").id == "CYL-CO2-50"
        assert client.token.grants == 2
        # a token that expires on the server's clock is renewed the same way
        sim.advance(4000)
        assert client.get_item("CYL-CO2-50").id == "CYL-CO2-50"
        assert client.token.grants == 3


def test_basic_auth_mode():
    with TimsSimulator(seed=1, profile=TimsProfile(auth_mode="basic")) as sim:
        client = _client(sim)
        assert client.get_customer("C1001").id == "C1001"
        bad = TimsClient(sim.client_profile(), {"username": "shopsync", "password": "nope-nope"})
        with pytest.raises(AuthError) as caught:
            bad.get_customer("C1001")
        assert caught.value.status_code == 401


def test_changed_profile_speaks_its_own_names_on_the_wire():
    profile = TimsProfile.model_validate(CHANGED_PROFILE)
    with TimsSimulator(seed=7, profile=profile) as sim:
        client = _client(sim)
        client.create_sales_order(ORDER, idempotency_key="k")
        [post] = sim.app.requests_to(Operation.SALES_ORDER_CREATE)
        assert post.path == "/v8/SalesOrder"
        assert "PONumber" in post.body and "customer_po" not in post.body
        assert "ItemNo" in post.body["Lines"][0] and "Qty" in post.body["Lines"][0]
        assert post.headers["x-request-id"] == "k"
        assert post.headers["x-tims-key"] == sim.credentials.api_key
        [lookup] = sim.app.requests_to(Operation.SALES_ORDER_LIST)
        assert lookup.query["PONumber"] == ["PS-000123"]
        assert len(list(client.list_customers())) == 6
        # cursor paging, two a page: three pages and the client stopped at the last
        pages = sim.app.requests_to(Operation.CUSTOMER_LIST)
        assert len(pages) == 3 and "token" in pages[1].query
        # a client on the default profile does not find its way there
        default = TimsClient(
            TimsProfile(base_url=sim.base_url, auth_mode="api_key_header"),
            sim.credentials.as_dict(),
            options=fast_options(safe_retries=0),
        )
        with pytest.raises(AuthError):  # its X-Api-Key header is not the profile's
            default.get_customer("C1001")


def test_idempotency_key_replays_and_refuses_another_body():
    with TimsSimulator(seed=1) as sim:
        client = _client(sim)
        url = sim.base_url + "/sales-orders"
        token = client.token.access_token()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "same"}
        first = requests.post(url, json=ORDER, headers=headers, timeout=5)
        again = requests.post(url, json=ORDER, headers=headers, timeout=5)
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = requests.post(
            url, json={**ORDER, "customer_po": "OTHER"}, headers=headers, timeout=5
        )
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        assert len(sim.state.orders) == 1
        broken = requests.post(
            url, data=b"{not json", headers=headers | {"Idempotency-Key": "x"}, timeout=5
        )
        assert broken.status_code == 400
        assert broken.json()["error"]["code"] == "invalid_json"


def test_rate_limit_knob_answers_429_with_retry_after():
    with TimsSimulator(seed=1, max_requests_per_second=2) as sim:
        client = _client(sim, safe_retries=0)
        with pytest.raises(RateLimitedError) as caught:
            for _ in range(5):
                client.get_item("CYL-CO2-50")
        assert caught.value.retry_after == 1


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="fault kind"):
        TimsSimulator().inject("meteor")


def test_seed_decides_the_data():
    assert SimState(seed=3).stock == SimState(seed=3).stock
    assert SimState(seed=3).stock != SimState(seed=4).stock


def test_orders_wait_for_the_clock():
    state = SimState(seed=1, step_seconds=10)
    order = state.create_order(dict(ORDER))
    state.progress()
    assert order["status"] == "open"
    state.clock.advance(25)
    state.progress()
    assert order["status"] == "shipped" and len(state.shipments) == 1
    state.clock.advance(100)
    state.progress()
    assert order["status"] == "closed" and len(state.payments) == 1


def test_cli_arguments_and_a_bad_profile_file(tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    options = vars(parser.parse_args(["--latency", "0.1", "--step-seconds", "5"]))
    assert options["latency"] == 0.1 and options["path_prefix"] == "/api/v1"
    bad = tmp_path / "profile.json"
    bad.write_text(json.dumps({"paging": "sideways"}))
    with pytest.raises(DataError, match=r"profile\.paging"):
        cli.run({**options, "profile": str(bad), "seed": 1, "port": 0}, io.StringIO())
    with pytest.raises(CommandError, match=r"missing\.json"):
        cli.run({**options, "profile": str(tmp_path / "missing.json")}, io.StringIO())


def test_latency_knob_slows_every_answer():
    import time

    with TimsSimulator(seed=1, latency=0.05) as sim:
        client = _client(sim)
        client.get_item("CYL-CO2-50")  # token + item: two answers
        started = time.perf_counter()
        client.get_item("CYL-CO2-50")
        assert time.perf_counter() - started >= 0.05


def test_stock_modified_since_uses_as_of():
    with TimsSimulator(seed=1) as sim:
        client = _client(sim)
        assert (
            len(list(client.list_inventory(modified_since=datetime(2026, 1, 1, tzinfo=UTC)))) == 30
        )
        assert list(client.list_inventory(modified_since=datetime(2026, 2, 1, tzinfo=UTC))) == []


def test_workers_racing_on_one_shop_order_make_one_tims_order():
    from concurrent.futures import ThreadPoolExecutor

    with TimsSimulator(seed=1) as sim:
        client = _client(sim)
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(
                pool.map(
                    lambda n: client.create_sales_order(ORDER, idempotency_key=f"worker-{n}"),
                    range(6),
                )
            )
        assert len(sim.state.orders) == 1
        assert {r.document.order_number for r in results} == set(sim.state.orders)
        assert sum(r.created for r in results) == 1
