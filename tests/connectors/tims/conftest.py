"""Backends for the TIMS contract suite: the simulator in-process through `responses` (no
sockets), over real HTTP, and over real HTTP with a changed profile (paths, aliases, paging,
auth) to prove the profile is configuration."""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.http import ClientOptions
from connectors.tims.client import TimsClient
from connectors.tims.profile import TimsProfile
from connectors.tims.simulator import SimulatorApp, TimsSimulator
from connectors.tims.simulator.app import SimRequest

RESPONSES_BASE = "http://tims.test/api/v1"

# Every path and name differs from the defaults; cursor paging; API key auth.
CHANGED_PROFILE = {
    "auth_mode": "api_key_header",
    "api_key_header": "X-TIMS-Key",
    "paging": "cursor",
    "page_size": 2,
    "items_key": "Items",
    "next_cursor_key": "NextToken",
    "cursor_param": "token",
    "page_size_param": "limit",
    "idempotency_header": "X-Request-Id",
    "paths": {
        "customer_list": "/v8/Customer",
        "customer_get": "/v8/Customer/{customer_code}",
        "customer_create": "/v8/Customer",
        "customer_update": "/v8/Customer/{customer_code}",
        "ship_to_list": "/v8/Customer/{customer_code}/ShipTo",
        "ship_to_create": "/v8/Customer/{customer_code}/ShipTo",
        "item_list": "/v8/Item",
        "item_get": "/v8/Item/{item_code}",
        "inventory_list": "/v8/ItemQuantity",
        "sales_order_create": "/v8/SalesOrder",
        "sales_order_get": "/v8/SalesOrder/{order_number}",
        "sales_order_list": "/v8/SalesOrder",
        "shipment_list": "/v8/Shipment",
        "invoice_list": "/v8/Invoice",
        "invoice_get": "/v8/Invoice/{invoice_number}",
        "payment_list": "/v8/Payment",
        "payment_create": "/v8/Payment",
    },
    "aliases": {
        "CustNo": "customer_code",
        "PONumber": "customer_po",
        "OrderNo": "order_number",
        "ItemNo": "item_code",
        "Qty": "quantity",
        "Whse": "location_id",
        "EMail": "email",
        "Lines": "lines",
        "ModifiedSince": "modified_since",
        "InvNo": "invoice_number",
    },
}


def fast_options(**overrides) -> ClientOptions:
    values = {"connect_timeout": 2.0, "read_timeout": 2.0, "safe_retries": 2, **overrides}
    return ClientOptions(**values)


@dataclass
class Tims:
    """What a contract test gets: a client and the simulator behind it."""

    name: str
    client: TimsClient
    app: SimulatorApp

    @property
    def profile(self) -> TimsProfile:
        return self.app.profile


def _no_sleep(seconds: float) -> None:
    return None


def register_app(rsps: responses.RequestsMock, app: SimulatorApp, base: str) -> None:
    """Route every request under `base` into the simulator's app, as its HTTP server would."""

    def callback(request):
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        sim_request = SimRequest(
            method=request.method,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        response = app.handle(sim_request)
        if response.fault == "drop":
            return 0, {}, requests.ConnectionError("connection dropped by the simulator")
        if response.fault == "delay":
            # the app did the work; its answer comes too late for the client
            return 0, {}, requests.ReadTimeout("read timed out")
        return response.status, response.headers, response.body

    pattern = re.compile(re.escape(base.split("/api")[0]) + r"/.*")
    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        rsps.add_callback(method, pattern, callback=callback)


@pytest.fixture(params=["responses", "http", "http-changed-profile"])
def tims(request):
    if request.param == "responses":
        app = SimulatorApp(seed=7, path_prefix="/api/v1", step_seconds=60)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            register_app(rsps, app, RESPONSES_BASE)
            profile = app.profile.model_copy(update={"base_url": RESPONSES_BASE})
            client = TimsClient(
                profile, app.credentials.as_dict(), options=fast_options(), sleep=_no_sleep
            )
            yield Tims(request.param, client, app)
        return
    profile = None
    if request.param == "http-changed-profile":
        profile = TimsProfile.model_validate(CHANGED_PROFILE)
    with TimsSimulator(seed=7, profile=profile, path_prefix="/api/v1", step_seconds=60) as sim:
        client = TimsClient(
            sim.client_profile(),
            sim.credentials.as_dict(),
            options=fast_options(read_timeout=0.5),
            sleep=_no_sleep,
        )
        yield Tims(request.param, client, sim.app)
        client.close()


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    # Tokens are shared through Django's cache; every test starts without one.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
