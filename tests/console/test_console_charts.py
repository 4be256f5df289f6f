"""The console's charts: throughput and order latency per hour, computed by the database, the
JSON endpoint the charts read, and the vendored Chart.js."""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations.models import Status, SyncRecord
from integrations.selectors_console import LATENCY_FLOW, order_latency
from integrations.selectors_console_charts import (
    chart_buckets,
    console_charts,
    latency_series,
    throughput_series,
)
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db

CHARTS_JSON = reverse("console_charts_data")
NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
VENDOR = Path(__file__).resolve().parents[2] / "integrations/static/integrations/vendor/chartjs"


def finished(integration, status, at, n=1, *, latency=timedelta(seconds=60), flow="test_noop"):
    """n records that finished at `at`, created `latency` before."""
    records = [
        SyncRecordFactory(integration=integration, status=status, flow=flow) for _ in range(n)
    ]
    SyncRecord.objects.filter(pk__in=[r.pk for r in records]).update(
        created_at=at - latency, finished_at=at, updated_at=at
    )
    return records


def test_buckets_are_the_last_hours_ending_with_the_current_one():
    buckets = chart_buckets(now=NOW, hours=24)
    assert len(buckets) == 24
    assert buckets[-1] == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert buckets[0] == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_throughput_per_hour_succeeded_and_failed():
    shop = IntegrationFactory(slug="shop-a")
    other = IntegrationFactory(slug="shop-b")
    hour = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    finished(shop, Status.SUCCEEDED, hour + timedelta(minutes=10), 2)
    finished(shop, Status.NEEDS_ATTENTION, hour + timedelta(minutes=20))
    finished(shop, Status.DEAD, hour - timedelta(hours=2) + timedelta(minutes=5))
    finished(shop, Status.SUCCEEDED, hour - timedelta(hours=1, minutes=1))  # 10:59
    finished(shop, Status.SUCCEEDED, hour - timedelta(days=2))  # before the window
    finished(shop, Status.SKIPPED, hour + timedelta(minutes=1))  # neither succeeded nor failed
    SyncRecordFactory(integration=shop, status=Status.RETRYING)  # not finished
    finished(other, Status.SUCCEEDED, hour + timedelta(minutes=5), 7)

    data = console_charts(integration=shop, now=NOW)

    assert data["integration"] == "shop-a"
    assert len(data["buckets"]) == len(data["succeeded"]) == len(data["failed"]) == 24
    assert data["labels"][-3:] == ["10:00", "11:00", "12:00"]
    assert data["succeeded"][-3:] == [1, 0, 2]
    assert data["failed"][-3:] == [1, 0, 1]
    assert sum(data["succeeded"]) == 3 and sum(data["failed"]) == 2

    everyone = console_charts(now=NOW)
    assert everyone["integration"] is None
    assert everyone["succeeded"][-1] == 9


def test_empty_charts_are_zeros_and_gaps():
    data = console_charts(now=NOW, hours=6)
    assert data["succeeded"] == data["failed"] == data["latency_count"] == [0] * 6
    assert data["latency_p50_seconds"] == data["latency_p95_seconds"] == [None] * 6


def test_latency_per_hour_matches_the_dashboard_definition():
    """p50 and p95 of one hour are the dashboard's figures for the same orders."""
    shop = IntegrationFactory(slug="shop-a")
    hour = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    # 21 orders: p95's rank falls on x.5 (0.95 x 20 + 0.5 = 19.5), where a rounding cast would
    # pick the next order; the dashboard's nearest rank takes the 20th (offset 19).
    for seconds in range(1, 22):
        finished(
            shop,
            Status.SUCCEEDED,
            hour + timedelta(minutes=seconds),
            latency=timedelta(seconds=seconds * 10),
            flow=LATENCY_FLOW,
        )
    finished(shop, Status.SUCCEEDED, hour, latency=timedelta(hours=5))  # another flow
    finished(shop, Status.NEEDS_ATTENTION, hour, flow=LATENCY_FLOW)  # not succeeded
    dashboard = order_latency(now=hour + timedelta(minutes=59), window=timedelta(minutes=59))
    later = finished(
        shop, Status.SUCCEEDED, hour + timedelta(hours=1, minutes=2), flow=LATENCY_FLOW
    )

    series = latency_series(start=hour, integration=shop)

    assert series[hour] == {
        "count": 21,
        "p50": timedelta(seconds=110),
        "p95": timedelta(seconds=200),
    }
    assert (dashboard.count, dashboard.p50, dashboard.p95) == (
        21,
        series[hour]["p50"],
        series[hour]["p95"],
    )
    assert series[hour + timedelta(hours=1)]["count"] == len(later) == 1

    data = console_charts(integration=shop, now=NOW)
    assert data["latency_count"][-2:] == [21, 1]
    assert data["latency_p50_seconds"][-2:] == [110.0, 60.0]
    assert data["latency_p95_seconds"][-2:] == [200.0, 60.0]
    assert data["latency_p50_seconds"][0] is None


def test_latency_is_per_integration():
    shop, other = IntegrationFactory(slug="shop-a"), IntegrationFactory(slug="shop-b")
    hour = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    finished(shop, Status.SUCCEEDED, hour, latency=timedelta(seconds=10), flow=LATENCY_FLOW)
    finished(other, Status.SUCCEEDED, hour, 3, latency=timedelta(seconds=90), flow=LATENCY_FLOW)
    assert latency_series(start=hour, integration=shop)[hour]["p50"] == timedelta(seconds=10)
    assert latency_series(start=hour, integration=other)[hour]["p50"] == timedelta(seconds=90)
    assert latency_series(start=hour)[hour]["count"] == 4


def test_each_series_is_one_query_whatever_the_records():
    shop = IntegrationFactory()
    hour = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    finished(shop, Status.SUCCEEDED, hour, 30, flow=LATENCY_FLOW)
    with CaptureQueriesContext(connection) as queries:
        throughput_series(start=hour - timedelta(hours=23))
        latency_series(start=hour - timedelta(hours=23))
    assert len(queries) == 2
    assert "GROUP BY" in queries[0]["sql"] and "OVER" in queries[1]["sql"]


# ---------------------------------------------------------------- the endpoint


def test_viewer_reads_the_charts_json(client, viewer):
    shop = IntegrationFactory(slug="shop-a")
    SyncRecordFactory(integration=shop, status=Status.SUCCEEDED)
    SyncRecord.objects.update(finished_at=SyncRecord.objects.get().updated_at)
    client.force_login(viewer)

    response = client.get(CHARTS_JSON, {"integration": "shop-a", "hours": "12"})

    assert response.status_code == 200
    data = response.json()
    assert data["integration"] == "shop-a" and data["hours"] == 12
    assert len(data["labels"]) == len(data["latency_p95_seconds"]) == 12
    assert data["succeeded"][-1] == 1
    assert len(client.get(CHARTS_JSON).json()["buckets"]) == 24


@pytest.mark.parametrize("hours", ["0", "169", "abc", "1.5", "", " 12", "1_2", "-3"])
def test_bad_hours_are_refused_with_a_reason(client, viewer, hours):
    client.force_login(viewer)
    response = client.get(CHARTS_JSON, {"hours": hours})
    assert response.status_code == 400
    body = response.json()
    assert "hours must be a whole number from 1 to 168" in body["message"]
    assert body["extra"] == {"hours": hours}


def test_unknown_integration_is_404_with_a_reason(client, viewer):
    client.force_login(viewer)
    response = client.get(CHARTS_JSON, {"integration": "no-such-shop"})
    assert response.status_code == 404
    assert "'no-such-shop'" in response.json()["message"]


def test_anonymous_and_roleless_staff_cannot_read_the_charts(client, django_user_model):
    response = client.get(CHARTS_JSON)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert client.get(CHARTS_JSON).status_code == 403


def test_dashboard_has_the_chart_canvases_and_the_integration_picker(client, viewer):
    IntegrationFactory(slug="shop-a", name="Shop A")
    client.force_login(viewer)
    page = client.get("/admin/console/").text
    assert 'id="chart-throughput"' in page and 'id="chart-latency"' in page
    assert f'data-charts-url="{CHARTS_JSON}"' in page
    assert '<option value="shop-a">Shop A</option>' in page


# ---------------------------------------------------------------- the vendored library


def test_vendored_chartjs_is_the_recorded_release():
    readme = (VENDOR / "README.md").read_text()
    script = (VENDOR / "chart.umd.min.js").read_bytes()
    recorded = re.search(r"sha256 chart\.umd\.min\.js \| `([0-9a-f]{64})`", readme).group(1)
    version = re.search(r"\| version \| ([0-9.]+) \|", readme).group(1)
    assert hashlib.sha256(script).hexdigest() == recorded
    assert script.startswith(f"/*!\n * Chart.js v{version}\n".encode())
    licence = (VENDOR / "LICENSE.md").read_text()
    assert "MIT License" in licence
    recorded_licence = re.search(r"sha256 LICENSE\.md \| `([0-9a-f]{64})`", readme).group(1)
    assert hashlib.sha256(licence.encode()).hexdigest() == recorded_licence
