"""One contract, two backends: the published samples replayed with `responses`, and the
simulator over real HTTP. The client must read both the same way."""

from decimal import Decimal

import pytest
import responses

from connectors.infor import operations
from connectors.infor.client import M3Client
from connectors.infor.ionapi import IonApiCredentials
from connectors.infor.mi import MIError

API = "https://mingle-ionapi.inforcloudsuite.com/ACME_TST/M3/m3api-rest"


@pytest.fixture(params=["samples", "simulator"])
def backend(request, sample):
    """A function (cono) -> M3Client, with the answers the contract expects."""
    if request.param == "simulator":
        sim = request.getfixturevalue("sim")
        yield lambda cono="100": M3Client.from_ionapi(sim.ionapi(), options={"cono": cono})
        return
    ionapi = sample("sample.ionapi")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            IonApiCredentials.from_dict(ionapi).token_url,
            json=sample("token-response.derived.json"),
        )
        mock.get(
            f"{API}/v2/execute/MMS200MI/Get", json=sample("m3-v2-get-MMS200MI-Get.derived.json")
        )
        mock.post(f"{API}/v2/execute", json=sample("m3-v2-bulk.derived.json")["response_HTTP_200"])
        mock.get(f"{API}/v2/execute/CRS610MI/GetBasicData", json=sample("m3-v2-error.derived.json"))
        yield lambda cono="100": M3Client.from_ionapi(ionapi, options={"cono": cono})


def test_item_is_trimmed_and_typed(backend):
    item = operations.item_get(backend(), itno="PS-1001")
    assert item["ITNO"] == "PS-1001" and item["STAT"] == "20"
    assert isinstance(item["NEWE"], Decimal) and item["LMDT"].year == 2024
    assert item["ITDS"] == item["ITDS"].strip()


def test_stock_in_bulk_reports_a_missing_item_without_stopping(backend):
    found, failed = operations.stock_balances(
        backend(), items=["PS-1001", "NO-SUCH-ITEM"], warehouses=["100"]
    )
    assert [(r["ITNO"], r["WHLO"]) for r in found] == [("PS-1001", "100")]
    assert isinstance(found[0]["AV01"], Decimal)
    assert [(f.transaction, f.error_field) for f in failed] == [("GetItmWhsBal", "ITNO")]
    assert "NO-SUCH-ITEM" in failed[0].error_message


def test_company_without_authority_names_cono(backend):
    with pytest.raises(MIError) as caught:
        operations.customer_get(backend(cono="0"), cuno="WEB0001")
    assert (caught.value.transaction, caught.value.field, caught.value.code) == (
        "GetBasicData",
        "CONO",
        "XAU0008",
    )
    assert "Not authorized for company 0" in str(caught.value)
