"""The connection test: per system, success, refused credentials (401), a timeout and a
missing permission, replayed with `responses`; the outcome is recorded on the connection and
error text is redacted."""

import json
import re

import pytest
import requests
import responses

from connectors.models import Connection, System
from connectors.permissions import Verdict
from connectors.prestashop.simulator.render import xml_api_root
from connectors.services import connection_test

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:9"
ANY = re.compile(r"http://127\.0\.0\.1:9/.*")
# No retries inside the client: a timeout is reported at once.
FAST = {"safe_retries": 0, "read_timeout": 2, "connect_timeout": 2}
PS_KEY = "K" * 32
ALL_FLOWS = ["order_to_cash", "status_back", "inventory", "customers", "products"]


def verdicts(result) -> dict[str, Verdict]:
    return {row.operation: row.verdict for row in result.permissions}


# ---------------------------------------------------------------- PrestaShop


@pytest.fixture
def shop_connection():
    return Connection.objects.create(
        name="shop",
        system=System.PRESTASHOP,
        base_url=f"{BASE}/api",
        credentials={"api_key": PS_KEY},
        options=FAST,
    )


def api_root(permissions: dict[str, set[str]]) -> dict:
    return {
        "body": xml_api_root(permissions, f"{BASE}/api"),
        "content_type": "text/xml",
        "headers": {"PSWS-Version": "8.1.7"},
    }


def full_key_for(flows: list[str]) -> dict[str, set[str]]:
    from connectors.prestashop.check import needs_for

    return {name: set(methods) for name, methods in needs_for(flows, patch=True).items()}


@responses.activate
def test_prestashop_success_lists_every_needed_permission_and_what_is_more(shop_connection):
    granted = full_key_for(ALL_FLOWS)
    granted["products"] = granted["products"] | {"DELETE"}  # no flow deletes products
    responses.add(responses.GET, ANY, **api_root(granted))

    result = connection_test(connection=shop_connection)

    assert result.ok, result.message
    assert result.version == "8.1.7"
    assert result.round_trip_ms is not None and result.round_trip_ms >= 0
    rows = verdicts(result)
    assert rows["GET products"] is Verdict.MAY
    assert rows["DELETE products"] is Verdict.MORE_THAN_NEEDED  # least privilege
    assert "more than needed" in result.message and "DELETE products" in result.message
    shop_connection.refresh_from_db()
    assert shop_connection.last_check_ok is True
    assert shop_connection.last_check_at is not None
    assert "answered GET /api/ in" in shop_connection.last_check_message


@responses.activate
def test_prestashop_missing_permission_fails_naming_it_and_the_flow(shop_connection):
    granted = full_key_for(ALL_FLOWS)
    granted["order_histories"] = {"GET"}  # no POST: status back cannot set a state
    responses.add(responses.GET, ANY, **api_root(granted))

    result = connection_test(connection=shop_connection)

    assert not result.ok
    (missing,) = result.missing
    assert (missing.operation, missing.needed_by) == ("POST order_histories", ("status_back",))
    assert verdicts(result)["POST order_histories"] is Verdict.MAY_NOT
    assert "MISSING: POST order_histories (status_back)" in result.message
    shop_connection.refresh_from_db()
    assert shop_connection.last_check_ok is False


@responses.activate
def test_prestashop_401_fails_and_the_key_never_shows(shop_connection):
    responses.add(
        responses.GET,
        ANY,
        status=401,
        body=f"401 Unauthorized (key {PS_KEY})",
        headers={"WWW-Authenticate": 'Basic realm="Welcome to PrestaShop Webservice"'},
    )
    result = connection_test(connection=shop_connection)
    assert not result.ok
    assert result.permissions == []
    assert "401" in result.message
    shop_connection.refresh_from_db()
    assert shop_connection.last_check_ok is False
    assert PS_KEY not in shop_connection.last_check_message
    assert PS_KEY not in result.message


@responses.activate
def test_prestashop_timeout_fails(shop_connection):
    responses.add(responses.GET, ANY, body=requests.exceptions.ReadTimeout("read timed out"))
    result = connection_test(connection=shop_connection)
    assert not result.ok
    assert "did not answer" in result.message
    assert result.round_trip_ms is None


# ---------------------------------------------------------------- Infor M3 (on-premises REST)


@pytest.fixture
def m3_connection():
    return Connection.objects.create(
        name="m3",
        system=System.INFOR_M3,
        kind=Connection.Kind.ON_PREMISES,
        base_url=BASE,
        credentials={"username": "SVC_SHOP", "password": "m3-secret-Pa55"},
        options={"cono": "100", **FAST},
    )


def m3_answer(refuse: set[str] = frozenset()):
    """m3api-rest v2: rows for every transaction, XAU0008 for those in `refuse`."""

    def callback(request):
        transaction = request.path_url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        program = request.path_url.split("?")[0].rstrip("/").rsplit("/", 2)[-2]
        if f"{program}/{transaction}" in refuse:
            result = {
                "transaction": transaction,
                "errorMessage": "Not authorized for company 100",
                "errorType": "ServerReturnedNOK",
                "errorCode": "XAU0008",
                "errorField": "CONO",
            }
            body = {"results": [result], "nrOfSuccessfullTransactions": 0}
        else:
            body = {"results": [{"transaction": transaction, "records": []}]}
        body |= {"wasTerminated": False}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    return callback


@responses.activate
def test_m3_success_reads_answer_and_writes_are_not_probed(m3_connection):
    responses.add_callback(responses.GET, ANY, callback=m3_answer())
    result = connection_test(connection=m3_connection)
    assert result.ok, result.message
    rows = verdicts(result)
    assert rows["OIS100MI/LstHead"] is Verdict.MAY
    assert rows["OIS100MI/AddBatchHead"] is Verdict.NOT_PROBED  # a test never writes
    assert result.round_trip_ms is not None
    assert result.token_ms is None  # on-premises: basic auth
    assert all(c.request.method == "GET" for c in responses.calls)
    assert "does not list what the credentials are granted" in result.message
    m3_connection.refresh_from_db()
    assert m3_connection.last_check_ok is True


@responses.activate
def test_m3_missing_permission_is_a_may_not_naming_the_transaction(m3_connection):
    responses.add_callback(
        responses.GET, ANY, callback=m3_answer(refuse={"OIS350MI/LstInvHeadByCo"})
    )
    result = connection_test(connection=m3_connection)
    assert not result.ok
    (missing,) = result.missing
    assert missing.operation == "OIS350MI/LstInvHeadByCo"
    assert missing.needed_by == ("status_back",)
    assert "Not authorized" in missing.detail


@responses.activate
def test_m3_401_fails_without_showing_the_password(m3_connection):
    responses.add(responses.GET, ANY, status=401, json={"error": "Unauthorized"})
    result = connection_test(connection=m3_connection)
    assert not result.ok
    assert "AuthError" in result.message
    assert "m3-secret-Pa55" not in result.message
    m3_connection.refresh_from_db()
    assert m3_connection.last_check_ok is False


@responses.activate
def test_m3_timeout_fails(m3_connection):
    responses.add(responses.GET, ANY, body=requests.exceptions.ConnectTimeout("timed out"))
    responses.add(responses.POST, ANY, body=requests.exceptions.ConnectTimeout("timed out"))
    result = connection_test(connection=m3_connection)
    assert not result.ok
    assert "TransientError" in result.message or "timed out" in result.message


# ---------------------------------------------------------------- TIMS (assumed interface)


TIMS_KEY = "tims-key-0123456789"


@pytest.fixture
def tims_connection():
    return Connection.objects.create(
        name="tims",
        system=System.TIMS,
        base_url=f"{BASE}/tims",
        credentials={"api_key": TIMS_KEY},
        options={"profile": {"auth_mode": "api_key_header"}, **FAST},
    )


def tims_answer(forbid: str = ""):
    def callback(request):
        if request.headers.get("X-Api-Key") != TIMS_KEY:
            return 401, {}, json.dumps({"error": {"code": "unauthorized", "message": "no"}})
        if forbid and request.path_url.split("?")[0].endswith(forbid):
            body = {"error": {"code": "forbidden", "message": "scope lacks payments:read"}}
            return 403, {"Content-Type": "application/json"}, json.dumps(body)
        return 200, {"Content-Type": "application/json"}, json.dumps({"data": [], "total_pages": 1})

    return callback


@responses.activate
def test_tims_success(tims_connection):
    responses.add_callback(responses.GET, ANY, callback=tims_answer())
    result = connection_test(connection=tims_connection)
    assert result.ok, result.message
    rows = verdicts(result)
    assert rows["GET /sales-orders"] is Verdict.MAY
    assert rows["POST /sales-orders"] is Verdict.NOT_PROBED
    assert result.round_trip_ms is not None
    # One record per read, never a full listing.
    assert all("page_size=1" in c.request.url for c in responses.calls)


@responses.activate
def test_tims_missing_permission(tims_connection):
    responses.add_callback(responses.GET, ANY, callback=tims_answer(forbid="/payments"))
    result = connection_test(connection=tims_connection)
    assert not result.ok
    (missing,) = result.missing
    assert missing.operation == "GET /payments"
    assert "scope lacks payments:read" in missing.detail


@responses.activate
def test_tims_401(tims_connection):
    tims_connection.credentials = {"api_key": "wrong-key-000000"}
    tims_connection.save()
    responses.add_callback(responses.GET, ANY, callback=tims_answer())
    result = connection_test(connection=tims_connection)
    assert not result.ok
    assert "AuthError" in result.message
    assert "wrong-key-000000" not in result.message


@responses.activate
def test_tims_timeout(tims_connection):
    responses.add(responses.GET, ANY, body=requests.exceptions.ReadTimeout("read timed out"))
    result = connection_test(connection=tims_connection)
    assert not result.ok
    assert "TransientError" in result.message


def test_the_flows_of_the_integrations_using_the_connection_are_checked(shop_connection):
    from tests.factories import IntegrationFactory

    IntegrationFactory(shop_connection=shop_connection, enabled_flows=["inventory"])
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, ANY, **api_root(full_key_for(["inventory"])))
        result = connection_test(connection=shop_connection)
    assert result.flows == ("inventory",)
    assert result.ok
    assert "GET orders" not in verdicts(result)
