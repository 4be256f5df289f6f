from decimal import Decimal

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_order_to_cash_rows(viewer, order_world):
    body = viewer.get("/api/v1/reports/orders/").json()
    rows = {r["reference"]: r for r in body["results"]}
    assert set(rows) == {"REFA", "REFB"}
    a = rows["REFA"]
    assert a["erp_order_number"] == "M3-1"
    assert a["shipped"] is True and a["tracking_number"] == "TRK1" and a["carrier"] == "DHL"
    assert a["invoiced"] is True and a["invoice_numbers"] == "INV1"
    assert a["paid"] is True
    assert a["shop_total"] == "120.00" and a["paid_total"] == "120.00"
    assert a["currency"] == "EUR" and a["erp_state"] == "shipped" and a["shop_state"] == "4"
    b = rows["REFB"]
    assert b["shipped"] is False and b["paid"] is False and b["invoiced_total"] == "55.00"


def test_order_to_cash_filters(viewer, order_world):
    one = viewer.get("/api/v1/reports/orders/", {"reference": "REFB"}).json()["results"]
    assert [r["erp_order_number"] for r in one] == ["M3-2"]
    by_erp = viewer.get("/api/v1/reports/orders/", {"erp_order_number": "M3-1"}).json()
    assert len(by_erp["results"]) == 1
    unknown = viewer.get("/api/v1/reports/orders/", {"integration": "nope"})
    assert unknown.status_code == 400
    assert "integration" in unknown.json()["extra"]["fields"]


def test_daily_aggregates_per_currency(viewer, order_world):
    body = viewer.get("/api/v1/reports/daily/").json()
    today = timezone.localdate().isoformat()
    rows = {(r["date"], r["currency"]): r for r in body["results"]}
    eur = rows[(today, "EUR")]
    assert eur["orders"] == 2 and Decimal(eur["sales_total"]) == Decimal("170.00")
    assert eur["shipments"] == 1
    assert eur["invoices"] == 2 and Decimal(eur["invoiced_total"]) == Decimal("175.00")
    assert eur["payments"] == 1 and Decimal(eur["paid_total"]) == Decimal("120.00")
    usd = rows[(today, "USD")]
    assert usd["orders"] == 1 and Decimal(usd["sales_total"]) == Decimal("10.00")


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-02-30"},
        {"since": "2020-01-01", "until": "2026-01-01"},
        {"since": "2026-02-02", "until": "2026-02-01"},
    ],
)
def test_daily_bad_ranges_are_400(viewer, params):
    response = viewer.get("/api/v1/reports/daily/", params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_reconciliation(viewer, order_world):
    body = viewer.get("/api/v1/reports/reconciliation/").json()
    assert body["counts"] == {
        "missing_in_erp": 1,
        "erp_without_shop_order": 1,
        "amount_mismatch": 1,
        "paid_in_shop_unpaid_in_erp": 1,
    }
    found = {(r["kind"], r["reference"] or r["erp_order_number"]) for r in body["results"]}
    assert found == {
        ("missing_in_erp", "REFC"),
        ("erp_without_shop_order", "M3-99"),
        ("amount_mismatch", "REFB"),
        ("paid_in_shop_unpaid_in_erp", "REFB"),
    }
    only = viewer.get("/api/v1/reports/reconciliation/", {"kind": "missing_in_erp"}).json()
    assert list(only["counts"]) == ["missing_in_erp"]
    bad = viewer.get("/api/v1/reports/reconciliation/", {"kind": "everything"})
    assert bad.status_code == 400


def test_inventory_drift(viewer, order_world):
    rows = viewer.get("/api/v1/reports/inventory-drift/").json()["results"]
    by_sku = {r["sku"]: r for r in rows}
    assert set(by_sku) == {"B", "C"}
    assert Decimal(by_sku["B"]["drift"]) == 4
    assert by_sku["C"]["shop_quantity"] is None


def test_health(viewer, order_world):
    body = viewer.get("/api/v1/reports/health/").json()
    flows = {(r["flow"], r["status"]): r["count"] for r in body["last_day"]}
    assert flows[("order_to_cash", "succeeded")] == 2
    assert body["open"]["needs_attention"] == 2
    assert body["webhook_backlog"]["count"] == 0
    assert body["oldest_pending_at"] is None


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/reports/orders/",
        "/api/v1/reports/daily/",
        "/api/v1/reports/reconciliation/",
        "/api/v1/reports/inventory-drift/",
        "/api/v1/reports/health/",
    ],
)
def test_every_report_exports_csv(viewer, order_world, url):
    response = viewer.get(url, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert len(lines) >= 2 and "," in lines[0]


@pytest.mark.parametrize("params", [{"until": "0001-01-01"}, {"since": "9999-12-31"}])
def test_daily_extreme_dates_are_400(viewer, params):
    response = viewer.get("/api/v1/reports/daily/", params)
    assert response.status_code == 400
