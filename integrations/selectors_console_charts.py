"""Reads behind the console's charts: throughput and order latency per hour, computed by the
database (one grouped query per series), so a chart costs the same with a million records.

Latency keeps the dashboard's definition (selectors_console.order_latency): order-to-cash
records that succeeded, from the record's creation (the order arriving from the shop) to its
finish (the ERP order created and reconciled), with the same nearest-rank percentiles; only
here per hour, ranked by a window function instead of one offset query per percentile.

Indexes relied on: syncrecord_console_updated (updated_at; throughput's window, see
finished_records) and syncrecord_console_latency (flow, status, finished_at; latency).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Window
from django.db.models.fields import IntegerField
from django.db.models.functions import Cast, Floor, RowNumber, TruncHour
from django.utils import timezone

from integrations.models import Integration, Status, SyncRecord
from integrations.selectors_console import LATENCY_FLOW

CHART_HOURS = 24  # default span of the charts
MAX_CHART_HOURS = 24 * 7  # longest span the endpoint accepts
FAILED = (Status.NEEDS_ATTENTION, Status.DEAD)
PERCENTILES = {"p50": 0.50, "p95": 0.95}


def chart_buckets(*, now: datetime, hours: int) -> list[datetime]:
    """The hour starts (UTC) the charts are drawn over, the current, partial hour last."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=hours - 1 - n) for n in range(hours)]


def finished_records(*, start: datetime, integration: Integration | None = None):
    """Records that finished since `start`.

    The updated_at bound is implied by the finished_at one (a record's updated_at is written
    with its finished_at and moves on at every later write, so it is never earlier), and it is
    the one an index (syncrecord_console_updated) can range over on every flow at once.
    """
    records = SyncRecord.objects.filter(updated_at__gte=start, finished_at__gte=start)
    if integration is not None:
        records = records.filter(integration=integration)
    return records


def throughput_series(
    *, start: datetime, integration: Integration | None = None
) -> dict[datetime, dict[str, int]]:
    """Per hour: records finished succeeded, and failed (needs attention or dead)."""
    rows = (
        finished_records(start=start, integration=integration)
        .annotate(bucket=TruncHour("finished_at", tzinfo=UTC))
        .values("bucket")
        .annotate(
            succeeded=Count("id", filter=Q(status=Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status__in=FAILED)),
        )
        .order_by("bucket")
    )
    return {row["bucket"]: {"succeeded": row["succeeded"], "failed": row["failed"]} for row in rows}


def latency_series(
    *, start: datetime, integration: Integration | None = None
) -> dict[datetime, dict[str, Any]]:
    """Per hour: how many orders finished, and their latency's p50 and p95 (timedelta).

    Each row is ranked within its hour by latency (ROW_NUMBER) and counted (COUNT OVER); only
    the rows at the percentiles' ranks come back, two per hour at most.
    """
    bucket = TruncHour("finished_at", tzinfo=UTC)
    latency = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    records = SyncRecord.objects.filter(
        flow=LATENCY_FLOW, status=Status.SUCCEEDED, finished_at__gte=start
    )
    if integration is not None:
        records = records.filter(integration=integration)
    ranked = records.annotate(
        bucket=bucket,
        latency=latency,
        rank=Window(RowNumber(), partition_by=[bucket], order_by=[latency.asc(), F("id").asc()]),
        count=Window(Count("id"), partition_by=[bucket]),
    )

    # The dashboard's nearest rank: offset int(share * (count - 1) + 0.5), 1-based here.
    # FLOOR first: PostgreSQL's cast to integer rounds where Python's int() truncates.
    def rank_of(share: float):
        return Cast(Floor((F("count") - 1) * share + 0.5), IntegerField()) + 1

    wanted = Q()
    for name, share in PERCENTILES.items():
        ranked = ranked.annotate(**{f"rank_{name}": rank_of(share)})
        wanted |= Q(rank=F(f"rank_{name}"))
    rows = (
        ranked.filter(wanted)
        .values("bucket", "count", "rank", "latency", *rank_names())
        .order_by()  # not the model's -id: the rows are placed by bucket and rank
    )
    series: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        point = series.setdefault(row["bucket"], {"count": row["count"]})
        for name in PERCENTILES:
            if row["rank"] == row[f"rank_{name}"]:
                point[name] = row["latency"]
    return series


def rank_names() -> list[str]:
    return [f"rank_{name}" for name in PERCENTILES]


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def console_charts(
    *,
    integration: Integration | None = None,
    hours: int = CHART_HOURS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The charts' data, JSON-ready: hour buckets, throughput and latency series."""
    now = now or timezone.now()
    buckets = chart_buckets(now=now, hours=hours)
    start = buckets[0]
    throughput = throughput_series(start=start, integration=integration)
    latency = latency_series(start=start, integration=integration)
    no_throughput = {"succeeded": 0, "failed": 0}
    return {
        "integration": integration.slug if integration is not None else None,
        "hours": hours,
        "as_of": now.isoformat(timespec="seconds"),
        "buckets": [b.isoformat() for b in buckets],
        "labels": [b.strftime("%H:%M") for b in buckets],
        "succeeded": [throughput.get(b, no_throughput)["succeeded"] for b in buckets],
        "failed": [throughput.get(b, no_throughput)["failed"] for b in buckets],
        "latency_count": [latency.get(b, {}).get("count", 0) for b in buckets],
        "latency_p50_seconds": [_seconds(latency.get(b, {}).get("p50")) for b in buckets],
        "latency_p95_seconds": [_seconds(latency.get(b, {}).get("p95")) for b in buckets],
    }
