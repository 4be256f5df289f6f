"""The dashboard's aggregates, computed by the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import PollCursor, Status, SyncRecord, WebhookEvent
from integrations.selectors_console import (
    dashboard,
    oldest_pending,
    order_latency,
    poller_lag,
    status_counts,
    top_errors,
    webhook_backlog,
)
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db


def _age(records, **times):
    SyncRecord.objects.filter(pk__in=[r.pk for r in records]).update(**times)


def test_status_counts_per_integration_flow_and_window():
    integration = IntegrationFactory(slug="shop-a")
    now = timezone.now()
    recent = [SyncRecordFactory(integration=integration, status=Status.SUCCEEDED) for _ in range(3)]
    old = [SyncRecordFactory(integration=integration, status=Status.SUCCEEDED) for _ in range(2)]
    _age(old, updated_at=now - timedelta(hours=5))
    SyncRecordFactory(integration=integration, status=Status.NEEDS_ATTENTION)
    ancient = SyncRecordFactory(integration=integration, status=Status.DEAD)
    _age([ancient], updated_at=now - timedelta(days=3))
    SyncRecordFactory(integration=integration, flow="other", status=Status.RETRYING)

    rows = {r["flow"]: r for r in status_counts(now=now)}

    noop = rows["test_noop"]
    assert noop["integration__slug"] == "shop-a"
    assert (noop["succeeded_hour"], noop["succeeded_day"]) == (3, 5)
    assert (noop["needs_attention_hour"], noop["needs_attention_day"]) == (1, 1)
    assert (noop["dead_hour"], noop["dead_day"]) == (0, 0)
    assert (rows["other"]["retrying_hour"], rows["other"]["retrying_day"]) == (1, 1)
    assert len(recent) == 3


def test_oldest_pending_counts_waiting_records_and_their_age():
    integration = IntegrationFactory(slug="shop-a")
    now = timezone.now()
    first = SyncRecordFactory(integration=integration, status=Status.PENDING)
    SyncRecordFactory(integration=integration, status=Status.RETRYING)
    SyncRecordFactory(integration=integration, status=Status.SUCCEEDED)
    _age([first], created_at=now - timedelta(minutes=30))

    [row] = oldest_pending(now=now)

    assert row["waiting"] == 2
    assert timedelta(minutes=29) < row["age"] < timedelta(minutes=31)


def test_top_errors_counts_open_records_by_class_and_field():
    integration = IntegrationFactory()
    for _ in range(3):
        SyncRecordFactory(
            integration=integration,
            status=Status.NEEDS_ATTENTION,
            error_class="UnknownItem",
            error_field="lines.1.sku",
        )
    SyncRecordFactory(
        integration=integration, status=Status.DEAD, error_class="Timeout", error_field=""
    )
    SyncRecordFactory(
        integration=integration,
        status=Status.SUCCEEDED,
        error_class="UnknownItem",
        error_field="lines.1.sku",
    )

    assert top_errors() == [
        {"error_class": "UnknownItem", "error_field": "lines.1.sku", "count": 3},
        {"error_class": "Timeout", "error_field": "", "count": 1},
    ]


def test_order_latency_percentiles():
    integration = IntegrationFactory()
    now = timezone.now()
    for seconds in range(1, 101):  # 1 s … 100 s
        record = SyncRecordFactory(
            integration=integration, flow="order_to_cash", status=Status.SUCCEEDED
        )
        _age(
            [record],
            created_at=now - timedelta(seconds=seconds + 60),
            finished_at=now - timedelta(seconds=60),
        )
    SyncRecordFactory(integration=integration, flow="order_to_cash", status=Status.PENDING)

    latency = order_latency(now=now)

    assert latency.count == 100
    assert latency.p50 in (timedelta(seconds=50), timedelta(seconds=51))
    assert latency.p95 in (timedelta(seconds=95), timedelta(seconds=96))
    assert order_latency(now=now + timedelta(days=2)).count == 0


def test_poller_lag_and_webhook_backlog():
    integration = IntegrationFactory(slug="shop-a")
    now = timezone.now()
    PollCursor.objects.create(
        integration=integration, stream="orders", last_success_at=now - timedelta(minutes=7)
    )
    PollCursor.objects.create(integration=integration, stream="customers")
    for n, state in enumerate(["received", "received", "processed"]):
        WebhookEvent.objects.create(
            integration=integration,
            source="prestashop",
            event_id=f"msg_{n}",
            body="{}",
            state=state,
        )

    lags = {row["stream"]: row["lag"] for row in poller_lag(now=now)}
    [backlog] = webhook_backlog(now=now)

    assert lags == {"customers": None, "orders": timedelta(minutes=7)}
    assert backlog["waiting"] == 2
    assert backlog["source"] == "prestashop"


def test_dashboard_has_every_panel():
    assert set(dashboard()) == {
        "now",
        "counts",
        "pending",
        "pollers",
        "webhooks",
        "errors",
        "latency",
    }
