import json

import pytest
import requests
import responses

from connectors.errors import (
    AuthError,
    DataError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.infor import operations
from connectors.infor.client import BulkTransaction, M3Client
from connectors.infor.orders import BatchOrder, order_place
from connectors.models import Connection

PU = "https://sso.example.com/T1/as/"
API = "https://ionapi.example.com/T1/M3/m3api-rest"
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
OK = {
    "results": [{"transaction": "Get", "records": [{"ITNO": "A1  ", "ITDS": "Mug   "}]}],
    "wasTerminated": False,
    "nrOfSuccessfullTransactions": 1,
    "nrOfFailedTransactions": 0,
}


def connection_for_tests(*, kind="cloud", credentials, options=None, pk=None, **kw):
    return Connection(
        pk=pk,
        system="infor_m3",
        name="m3",
        base_url=kw.get("base_url", "https://ionapi.example.com"),
        kind=kind,
        credentials=credentials,
        options=options or {},
    )


def make(**options):
    sleeps = []
    c = M3Client.from_ionapi(IONAPI, options=options, sleep=sleeps.append)
    c.sleeps = sleeps
    return c


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(PU + "token.oauth2", json={"access_token": "tok-1", "expires_in": 3600})
        yield mock


def test_values_are_right_trimmed(rsps):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", json=OK)
    assert operations.item_get(make(), itno="A1") == {"ITNO": "A1", "ITDS": "Mug"}


def test_a_401_is_retried_once_with_a_fresh_token(rsps):
    rsps.post(PU + "token.oauth2", json={"access_token": "tok-2", "expires_in": 3600})
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=401)
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", json=OK)
    client = make()
    assert operations.item_get(client, itno="A1")["ITNO"] == "A1"
    api = [c.request for c in rsps.calls if "/m3api-rest/" in c.request.url]
    assert [r.headers["Authorization"] for r in api] == ["Bearer tok-1", "Bearer tok-2"]


def test_a_second_401_is_an_auth_error(rsps):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=401)
    with pytest.raises(AuthError) as caught:
        operations.item_get(make(), itno="A1")
    assert caught.value.status_code == 401


@pytest.mark.parametrize("status", [404, 405])
def test_404_and_405_are_permanent_configuration_errors(rsps, status):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=status)
    with pytest.raises(PermanentError) as caught:
        operations.item_get(make(), itno="A1")
    assert caught.value.details == {"configuration": True}
    assert "base URL" in str(caught.value)
    assert len(rsps.calls) == 2  # token + one call: never retried


def test_429_honours_retry_after_then_succeeds(rsps):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=429, headers={"Retry-After": "3"})
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", json=OK)
    client = make()
    operations.item_get(client, itno="A1")
    assert client.sleeps == [3.0]


def test_429_without_retry_after_backs_off(rsps):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=429)
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=429)
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=429)
    client = make(safe_retries=2)
    with pytest.raises(RateLimitedError):
        operations.item_get(client, itno="A1")
    assert len(client.sleeps) == 2 and all(0 <= s <= 10 for s in client.sleeps)


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"body": requests.ReadTimeout("slow")},
        {"body": requests.ConnectionError("reset")},
        {"status": 200, "body": "<html>proxy</html>"},
    ],
)
def test_transient_failures_of_a_write_are_not_retried(rsps, reply):
    rsps.get(f"{API}/v2/execute/OIS100MI/AddBatchHead", **reply)
    client = make()
    with pytest.raises(TransientError):
        client.execute("OIS100MI", "AddBatchHead", {"CUNO": "C1"})
    api = [c for c in rsps.calls if "/m3api-rest/" in c.request.url]
    assert len(api) == 1
    assert client.sleeps == []


def test_transient_failures_of_a_read_are_retried(rsps):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", status=504)
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", body=requests.ConnectionError("reset"))
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", json=OK)
    assert operations.item_get(make(), itno="A1")["ITNO"] == "A1"


def test_bulk_of_reads_is_idempotent_bulk_of_writes_is_not(rsps):
    rsps.post(f"{API}/v2/execute", status=503)
    client = make(safe_retries=1)
    with pytest.raises(TransientError):
        client.execute_bulk("MMS200MI", [BulkTransaction("Get", {"ITNO": "A"})])
    assert (
        len([c for c in rsps.calls if c.request.method == "POST" and "execute" in c.request.url])
        == 2
    )
    rsps.calls.reset()
    with pytest.raises(TransientError):
        client.execute_bulk("OIS100MI", [BulkTransaction("Confirm", {"ORNO": "1"})])
    assert len([c for c in rsps.calls if "execute" in c.request.url]) == 1


def test_bulk_is_split_at_bulk_max(rsps):
    def reply(request):
        txs = json.loads(request.body)["transactions"]
        results = [{"transaction": t["transaction"], "records": []} for t in txs]
        return 200, {}, json.dumps({"results": results, "nrOfFailedTransactions": 0})

    rsps.add_callback(responses.POST, f"{API}/v2/execute", callback=reply)
    client = make(bulk_max=3)
    results = client.execute_bulk(
        "MMS200MI", [BulkTransaction("Get", {"ITNO": str(i)}) for i in range(7)]
    )
    assert len(results) == 7 and all(r.ok for r, _ in results)
    assert client.stats.calls == 3


def test_terminated_bulk_marks_the_rest_not_processed(rsps):
    rsps.post(
        f"{API}/v2/execute",
        json={
            "results": [{"transaction": "Get", "records": []}],
            "wasTerminated": "true",
            "terminationReason": "gateway time limit",
        },
    )
    results = make().execute_bulk("MMS200MI", [BulkTransaction("Get", {"ITNO": "A"})] * 3)
    assert [r.ok for r, _ in results] == [True, False, False]
    assert results[2][0].error_message == "gateway time limit"


def test_data_errors_are_raised_before_any_call(rsps):
    client = make()
    batch = BatchOrder(
        head={"CUNO": "C1", "CUOR": "REF-" + "9" * 30},
        lines=[{"ITNO": "A", "ORQT": 1, "CUPO": 1}],
    )
    rsps.get(f"{API}/v2/execute/OIS100MI/LstBatchHead", json={"results": [{"records": []}]})
    rsps.get(f"{API}/v2/execute/OIS100MI/LstHead", json={"results": [{"records": []}]})
    with pytest.raises(DataError) as caught:
        order_place(client, batch=batch)
    assert caught.value.field == "CUOR"
    assert not [c for c in rsps.calls if "AddBatchHead" in c.request.url]


def test_transient_mi_codes_are_configurable(rsps):
    error = {
        "results": [
            {
                "transaction": "ChgBasicData",
                "errorMessage": "Record is locked",
                "errorCode": "LOCK001",
                "errorField": "CUNO",
            }
        ],
        "nrOfFailedTransactions": 1,
    }
    rsps.get(f"{API}/v2/execute/CRS610MI/ChgBasicData", json=error)
    with pytest.raises(TransientError) as caught:
        operations.customer_update(make(transient_mi_codes="LOCK001"), cuno="C1", record={})
    assert caught.value.field == "CUNO"
    with pytest.raises(PermanentError):
        operations.customer_update(make(), cuno="C1", record={})


def test_on_premises_connection_uses_basic_auth(rsps):
    rsps.get("https://m3be.local:21108/m3api-rest/v2/execute/MMS200MI/Get", json=OK)
    conn = connection_for_tests(
        kind="on_premises",
        base_url="https://m3be.local:21108",
        credentials={"username": "M3USER", "password": "pw-123456"},
        options={"cono": "200"},
    )
    client = M3Client.from_connection(conn)
    operations.item_get(client, itno="A1")
    sent = rsps.calls[-1].request
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "cono=200" in sent.url
    with pytest.raises(AuthError, match="username"):
        M3Client.from_connection(connection_for_tests(kind="on_premises", credentials={}))


def test_cloud_connection_shares_the_token_by_connection_id(rsps):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", json=OK)
    conn = connection_for_tests(credentials=IONAPI, pk=42)
    one, two = M3Client.from_connection(conn), M3Client.from_connection(conn)
    operations.item_get(one, itno="A1")
    operations.item_get(two, itno="A1")
    assert len([c for c in rsps.calls if "token.oauth2" in c.request.url]) == 1
    assert one.tokens.cache_key.endswith("connection-42")


def test_confirm_is_never_sent_after_a_failed_line(rsps):
    empty = {"results": [{"records": []}]}
    rsps.get(f"{API}/v2/execute/OIS100MI/LstBatchHead", json=empty)
    rsps.get(f"{API}/v2/execute/OIS100MI/LstHead", json=empty)
    rsps.get(
        f"{API}/v2/execute/OIS100MI/AddBatchHead", json={"results": [{"records": [{"ORNO": "T1"}]}]}
    )

    def reply(request):
        txs = json.loads(request.body)["transactions"]
        results = []
        for tx in txs:
            if tx["record"].get("ITNO") == "BAD":
                results.append(
                    {
                        "transaction": tx["transaction"],
                        "errorMessage": "Item blocked",
                        "errorField": "ITNO",
                    }
                )
            else:
                results.append({"transaction": tx["transaction"], "records": []})
        return 200, {}, json.dumps({"results": results})

    rsps.add_callback(responses.POST, f"{API}/v2/execute", callback=reply)
    items = ["A1", "BAD", "A3", "A4", "A5", "A6"]
    batch = BatchOrder(
        head={"CUNO": "C1", "CUOR": "PS-9"},
        lines=[{"ITNO": itno, "ORQT": 1, "CUPO": i + 1} for i, itno in enumerate(items)],
    )
    client = make(bulk_max=3)  # 6 lines + Confirm = 7: two calls of 3 lines, then Confirm
    with pytest.raises(PermanentError) as caught:
        order_place(client, batch=batch)
    assert (caught.value.field, caught.value.value) == ("ITNO", "BAD")
    sent = [
        t["transaction"]
        for c in rsps.calls
        if c.request.method == "POST" and "execute" in c.request.url
        for t in json.loads(c.request.body)["transactions"]
    ]
    assert "Confirm" not in sent
