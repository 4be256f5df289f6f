"""The client against the published wire formats: every file in the reference's samples/,
replayed with `responses` (not the simulator's output)."""

import base64
import json
import re
from decimal import Decimal
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import responses

from connectors.canonical import OrderState
from connectors.errors import PermanentError
from connectors.infor import operations
from connectors.infor.auth import IonTokenProvider
from connectors.infor.bod import parse_sync_sales_order
from connectors.infor.client import BulkTransaction, M3Client
from connectors.infor.ionapi import IonApiCredentials
from connectors.infor.mi import MIError, metadata_v1, parse_response
from connectors.infor.orders import BatchOrder, order_place
from connectors.infor.translate import balance_to_stock, order_state

API = "https://mingle-ionapi.inforcloudsuite.com/ACME_TST/M3/m3api-rest"


def envelope(transaction, records):
    return {
        "results": [{"transaction": transaction, "records": records}],
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": 1,
        "nrOfFailedTransactions": 0,
    }


@pytest.fixture
def ionapi(sample):
    return sample("sample.ionapi")


@pytest.fixture
def token_url(ionapi):
    return IonApiCredentials.from_dict(ionapi).token_url


@pytest.fixture
def rsps(sample, token_url):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(token_url, json=sample("token-response.derived.json"))
        yield mock


def make_client(ionapi, **options):
    return M3Client.from_ionapi(ionapi, options={"cono": "100", **options}, sleep=lambda s: None)


def query_of(call):
    return dict(parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True))


def http_blocks(text):
    """The requests of token.http: [{method, url, headers, body}]."""
    blocks = []
    for chunk in re.split(r"^###.*$", text, flags=re.M):
        lines = [ln for ln in chunk.strip().splitlines()]
        if not lines or " " not in lines[0]:
            continue
        method, url = lines[0].split(" ", 1)
        headers, body, in_body = {}, [], False
        for line in lines[1:]:
            if not line.strip():
                in_body = True
            elif in_body:
                body.append(line)
            else:
                key, _, value = line.partition(":")
                headers[key.strip()] = value.strip()
        blocks.append({"method": method, "url": url, "headers": headers, "body": "".join(body)})
    return blocks


# -- .ionapi + token ---------------------------------------------------------------------


def test_password_grant_matches_token_http_with_basic_client_auth(rsps, ionapi, sample):
    block = http_blocks(sample("token.http"))[1]  # 1b) client credentials as Basic
    provider = make_client(ionapi).tokens
    assert provider.access_token() == "FAKE-access-token"
    sent = rsps.calls[0].request
    assert sent.url == block["url"]
    assert parse_qs(sent.body) == parse_qs(block["body"])
    assert "%23" in sent.body  # the '#' of saak is form-encoded, the value sent as is
    expected = base64.b64encode(f"{ionapi['ci']}:{ionapi['cs']}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"


def test_password_grant_matches_token_http_with_credentials_in_body(rsps, ionapi, sample):
    block = http_blocks(sample("token.http"))[0]  # 1) everything in the form body
    make_client(ionapi, token_auth_method="client_secret_post").tokens.access_token()
    sent = rsps.calls[0].request
    assert sent.method == block["method"] == "POST"
    assert parse_qs(sent.body) == parse_qs(block["body"])
    assert sent.headers["Content-Type"].startswith(block["headers"]["Content-Type"])


def test_token_response_is_cached_with_expiry_and_refresh_token(rsps, ionapi, sample):
    clock = [1_000.0]
    creds = IonApiCredentials.from_dict(ionapi)
    provider = IonTokenProvider(creds, connection_key="c1", clock=lambda: clock[0])
    assert provider.access_token() == "FAKE-access-token"
    cached = provider._token
    assert cached["expires_at"] == 1_000.0 + sample("token-response.derived.json")["expires_in"]
    assert cached["refresh_token"] == "FAKE-refresh-token"
    # a second provider for the same connection (another worker) reuses the cached grant
    other = IonTokenProvider(creds, connection_key="c1", clock=lambda: clock[0])
    assert other.access_token() == "FAKE-access-token"
    assert len(rsps.calls) == 1


def test_refresh_and_revoke_match_token_http(rsps, ionapi, sample, token_url):
    blocks = http_blocks(sample("token.http"))
    refresh_block, revoke_block = blocks[2], blocks[3]
    clock = [0.0]
    provider = IonTokenProvider(
        IonApiCredentials.from_dict(ionapi), connection_key="c2", clock=lambda: clock[0]
    )
    provider.access_token()
    clock[0] = 7200 - 59  # within a minute of expiry: refreshed
    provider.access_token()
    refresh = rsps.calls[1].request
    assert parse_qs(refresh.body) == parse_qs(refresh_block["body"])
    assert refresh.headers["Authorization"].startswith("Basic ")
    rsps.post(revoke_block["url"], status=200)
    assert provider.revoke() is True
    revoke = rsps.calls[-1].request
    assert revoke.url == revoke_block["url"]
    assert parse_qs(revoke.body) == parse_qs(revoke_block["body"])
    assert revoke.headers["Authorization"].startswith("Basic ")


def test_bearer_token_is_used_as_in_token_http(rsps, ionapi, sample):
    use = http_blocks(sample("token.http"))[4]
    rsps.get(use["url"].split("?")[0], json=sample("m3-v2-get-MMS200MI-Get.derived.json"))
    operations.item_get(make_client(ionapi), itno="PS-1001")
    api_call = rsps.calls[-1].request
    assert api_call.url.startswith(use["url"].split("?")[0] + "?")
    assert query_of(rsps.calls[-1])["ITNO"] == "PS-1001"
    assert api_call.headers["Authorization"] == use["headers"]["Authorization"]


# -- v2 single, list, error, bulk ----------------------------------------------------------


def test_v2_get_item_is_trimmed_and_typed(rsps, ionapi, sample):
    rsps.get(f"{API}/v2/execute/MMS200MI/Get", json=sample("m3-v2-get-MMS200MI-Get.derived.json"))
    item = operations.item_get(make_client(ionapi), itno="PS-1001")
    assert item["ITDS"] == "Ceramic mug 30cl"
    assert item["NEWE"] == Decimal("0.4")
    assert item["LMDT"].isoformat() == "2024-01-15"
    params = query_of(rsps.calls[-1])
    assert params["cono"] == "100"
    assert params["righttrim"] == "true"
    assert params["dateformat"] == "YMD8"
    assert params["maxrecs"] == "100"


def test_v2_warehouse_balance_becomes_stock_level(rsps, ionapi, sample):
    rsps.get(
        f"{API}/v2/execute/MMS200MI/GetItmWhsBal",
        json=sample("m3-v2-get-MMS200MI-GetItmWhsBal.derived.json"),
    )
    row = make_client(ionapi).execute_one(
        "MMS200MI", "GetItmWhsBal", {"WHLO": "100", "ITNO": "PS-1001"}
    )
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    assert balance_to_stock(row, available_field="AV01", as_of=now).quantity == Decimal("105")
    stock = balance_to_stock(row, available_field="STQT-ALQT", as_of=now)
    assert (stock.quantity, stock.on_hand, stock.allocated) == (105, 120, 15)
    assert stock.warehouse == "100" and stock.sku == "PS-1001"


def test_v2_captured_list_with_string_flags_and_digit_fields(rsps, ionapi, sample):
    rsps.get(
        f"{API}/v2/execute/CRS949MI/LstPartnerMedia",
        json=sample("m3-v2-list-CRS949MI-LstPartnerMedia.captured.json"),
    )
    rows = make_client(ionapi).execute("CRS949MI", "LstPartnerMedia", {"PRF1": "600996"})
    assert len(rows) == 1
    assert rows[0]["1UDT"] == "" and rows[0]["MEDC"] == "MAIL"
    assert rows[0]["TOMA"] == "buyer1@example.com; buyer2@example.com"


def test_v2_error_is_a_permanent_error_naming_transaction_field_and_message(rsps, ionapi, sample):
    rsps.get(f"{API}/v2/execute/CRS610MI/GetBasicData", json=sample("m3-v2-error.derived.json"))
    with pytest.raises(MIError) as caught:
        operations.customer_get(make_client(ionapi), cuno="WEB0001")
    error = caught.value
    assert isinstance(error, PermanentError)
    assert (error.transaction, error.field, error.code) == ("GetBasicData", "CONO", "XAU0008")
    assert "CRS610MI/GetBasicData" in str(error)
    assert "Not authorized for company 0" in str(error)


def test_bulk_request_matches_sample_and_failures_are_counted(rsps, ionapi, sample):
    bulk = sample("m3-v2-bulk.derived.json")
    rsps.post(f"{API}/v2/execute", json=bulk["response_HTTP_200"])
    txs = [
        BulkTransaction(t["transaction"], t["record"], t["selectedColumns"])
        for t in bulk["request"]["body"]["transactions"]
    ]
    results = make_client(ionapi).execute_bulk("MMS200MI", txs, maxrecs=0)
    sent = rsps.calls[-1].request
    assert json.loads(sent.body) == bulk["request"]["body"]
    assert sent.headers["Content-Type"] == bulk["request"]["headers"]["Content-Type"]
    params = query_of(rsps.calls[-1])
    assert (params["cono"], params["maxrecs"]) == ("100", "0")
    assert parse_response(bulk["response_HTTP_200"]).failed == 1
    (ok, _), (failed, failed_sent) = results
    assert ok.ok and ok.records[0]["AV01"] == "105"
    error = failed.error("MMS200MI", failed_sent)
    assert (error.field, error.value) == ("ITNO", "NO-SUCH-ITEM")
    assert "does not exist" in str(error)


def test_stock_balances_keep_going_past_a_missing_item(rsps, ionapi, sample):
    bulk = sample("m3-v2-bulk.derived.json")
    rsps.post(f"{API}/v2/execute", json=bulk["response_HTTP_200"])
    found, failed = operations.stock_balances(
        make_client(ionapi), items=["PS-1001", "NO-SUCH-ITEM"], warehouses=["100"]
    )
    assert [r["ITNO"] for r in found] == ["PS-1001"]
    assert found[0]["AV01"] == Decimal("105")
    assert failed[0].error_field == "ITNO"


# -- OIS100MI batch order flow --------------------------------------------------------------


def _flow_batch(flow):
    def params(step):
        query = step["request"].split("?", 1)[1].split()[0]
        return {k: v for k, v in parse_qsl(query) if k not in ("CONO", "ORNO")}

    steps = flow["steps"]
    return BatchOrder(
        head=params(steps[0]),
        lines=[params(steps[1])],
        addresses=[params(steps[2])],
    ), [params(s) for s in steps[:3]]


def test_order_flow_sample_single_transaction_path(rsps, ionapi, sample):
    flow = sample("OIS100MI-order-flow.derived.json")
    steps = flow["steps"]
    for name in ("LstBatchHead", "LstHead"):
        rsps.get(f"{API}/v2/execute/OIS100MI/{name}", json=envelope(name, []))
    for step in steps[:5]:
        name = step["request"].split("/OIS100MI/")[1].split("?")[0]
        rsps.get(f"{API}/v2/execute/OIS100MI/{name}", json=step["response"])
    batch, expected = _flow_batch(flow)
    client = make_client(ionapi, use_bulk=False)
    placed = order_place(client, batch=batch)
    assert (placed.orno, placed.batch_orno, placed.created) == ("0000123456", "1000012345", True)
    sent = {urlsplit(c.request.url).path.rsplit("/", 1)[1]: query_of(c) for c in rsps.calls[1:]}
    for name, want in zip(
        ("AddBatchHead", "AddBatchLine", "AddBatchAddress"), expected, strict=True
    ):
        assert want.items() <= sent[name].items(), name
    assert sent["AddBatchLine"]["ORNO"] == "1000012345"
    assert sent["Confirm"]["ORNO"] == "1000012345"
    head = operations.order_get(client, orno=placed.orno)
    assert head["CUOR"] == "PS-000123" and head["TOPY"] == Decimal("30.00")
    assert order_state(head) is OrderState.PROCESSING


def test_order_flow_sample_bulk_path_is_two_calls_after_the_lookup(rsps, ionapi, sample):
    flow = sample("OIS100MI-order-flow.derived.json")
    steps = flow["steps"]
    for name in ("LstBatchHead", "LstHead"):
        rsps.get(f"{API}/v2/execute/OIS100MI/{name}", json=envelope(name, []))
    rsps.get(f"{API}/v2/execute/OIS100MI/AddBatchHead", json=steps[0]["response"])
    results = [steps[i]["response"]["results"][0] for i in (2, 1, 3)]
    rsps.post(
        f"{API}/v2/execute",
        json={
            "results": results,
            "wasTerminated": False,
            "nrOfSuccessfullTransactions": 3,
            "nrOfFailedTransactions": 0,
        },
    )
    batch, _ = _flow_batch(flow)
    placed = order_place(make_client(ionapi), batch=batch)
    assert placed.orno == "0000123456"
    body = json.loads(rsps.calls[-1].request.body)
    assert body["program"] == "OIS100MI"
    assert [t["transaction"] for t in body["transactions"]] == [
        "AddBatchAddress",
        "AddBatchLine",
        "Confirm",
    ]
    api_calls = [c for c in rsps.calls if "/m3api-rest/" in c.request.url]
    assert len(api_calls) == 4  # LstBatchHead, LstHead, AddBatchHead, bulk


def test_order_stuck_in_batch_is_explained_with_lstErrMsgOrder(rsps, ionapi, sample):
    flow = sample("OIS100MI-order-flow.derived.json")
    steps = flow["steps"]
    for name in ("LstBatchHead", "LstHead"):
        rsps.get(f"{API}/v2/execute/OIS100MI/{name}", json=envelope(name, []))
    for step in steps[:3]:
        name = step["request"].split("/OIS100MI/")[1].split("?")[0]
        rsps.get(f"{API}/v2/execute/OIS100MI/{name}", json=step["response"])
    rsps.get(
        f"{API}/v2/execute/OIS100MI/Confirm",
        json=envelope("Confirm", [{"ORNO": "1000012345", "STAT": "25"}]),
    )
    rsps.get(f"{API}/v2/execute/OIS100MI/LstErrMsgOrder", json=steps[5]["response"])
    batch, _ = _flow_batch(flow)
    with pytest.raises(MIError) as caught:
        order_place(make_client(ionapi, use_bulk=False), batch=batch)
    error = caught.value
    assert (error.field, error.value) == ("ITNO", "PS-1001")
    assert "status 25" in str(error) and "error in a line" in str(error)
    assert "Item number PS-1001 does not exist in warehouse 100" in str(error)


# -- v1 --------------------------------------------------------------------------------------


def test_v1_list_uses_matrix_parameters_and_reads_name_values(rsps, ionapi, sample):
    body = sample("m3-v1-list-response.verbatim-trimmed.json")
    rsps.get(re.compile(re.escape(f"{API}/execute/TST001MI/Lst10Out") + ".*"), json=body)
    client = make_client(ionapi, api_version="v1", divi="AAA")
    rows = client.execute("TST001MI", "Lst10Out", {"F001": "1"}, returncols=["F001", "F002"])
    assert rows == [
        {"F001": "00000001", "F002": "00000002", "F003": "00000003"},
        {"F001": "00000002", "F002": "00000003", "F003": "00000004"},
    ]
    url = rsps.calls[-1].request.url
    assert "/execute/TST001MI/Lst10Out;" in url
    assert ";excludempty=false" in url and ";returncols=F001,F002" in url
    assert ";cono=100" in url and ";divi=AAA" in url
    assert query_of(rsps.calls[-1]) == {"F001": "1"}
    assert metadata_v1(body)["F001"] == {"type": "A", "length": 8, "description": "Text field"}


def test_v1_nok_bodies_are_permanent_errors(rsps, ionapi, sample):
    nok = sample("m3-v1-nok.verbatim.json")
    url = re.compile(re.escape(f"{API}/execute/TST001MI/Lst10Out") + ".*")
    client = make_client(ionapi, api_version="v1")
    rsps.get(url, json=nok["plain_NOK_HTTP_200"])
    with pytest.raises(MIError) as caught:
        client.execute("TST001MI", "Lst10Out", {"RETT": "1"})
    assert (caught.value.field, caught.value.code, caught.value.value) == ("RETT", "CPF9898", "1")
    assert str(caught.value).endswith("Designed to fail! [CPF9898]")  # blank padding trimmed

    rsps.replace(responses.GET, url, json=nok["partial_NOK_after_records_HTTP_200_tail"])
    with pytest.raises(MIError) as caught:
        client.execute("TST001MI", "Lst10Out")
    assert caught.value.field == "RCNT"
    assert "Record count was:'-5" in str(caught.value)

    for example in nok["real_world_examples_from_code_comments"]:
        rsps.replace(responses.GET, url, json=example)
        with pytest.raises(MIError) as caught:
            client.execute("TST001MI", "Lst10Out")
        assert caught.value.code == example["@code"]
        assert caught.value.field == example.get("@field", "")
        assert example["Message"].strip() in str(caught.value)


# -- BOD ---------------------------------------------------------------------------------------


def test_sync_sales_order_bod_skeleton_is_read(sample):
    bod = parse_sync_sales_order(sample("SyncSalesOrder.derived.xml"))
    assert bod["orno"] == "0000123456"
    assert bod["cuor"] == "PS-000123"
    assert bod["cuno"] == "WEB0001"
    assert (bod["currency"], bod["total"], bod["action"]) == ("EUR", "30.00", "Replace")
    assert bod["lines"] == [
        {"line_number": "1", "item": "PS-1001", "quantity": "2", "status": "22"}
    ]
