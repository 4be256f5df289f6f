"""Reads behind the ops console's dashboard. Every figure is an aggregate computed by the
database (one grouped query per panel), so the page costs the same with a million records.

Indexes relied on: syncrecord_console_updated (updated_at; the hour/day windows),
syncrecord_due (status, next_attempt_at; pending work), syncrecord_error (error_class, status;
top errors), syncrecord_console_latency (flow, status, finished_at; order latency),
webhookevent_backlog (state, received_at).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q
from django.utils import timezone

from integrations.models import (
    Integration,
    Link,
    PollCursor,
    Status,
    SyncAttempt,
    SyncRecord,
    WebhookEvent,
)

# Statuses the dashboard counts per window, in display order.
WINDOW_STATUSES = (Status.SUCCEEDED, Status.RETRYING, Status.NEEDS_ATTENTION, Status.DEAD)
# Statuses still waiting to run (the "oldest pending" panel).
WAITING_STATUSES = (Status.PENDING, Status.RETRYING)
# Statuses that count as an error to act on (the "top errors" panel).
ERROR_STATUSES = (Status.NEEDS_ATTENTION, Status.DEAD)
TOP_ERRORS = 10
LATENCY_FLOW = "order_to_cash"
LATENCY_WINDOW = timedelta(days=1)


def status_counts(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per integration and flow: records that reached each status in the last hour and day
    (by their last update), plus how many need attention or are dead right now."""
    now = now or timezone.now()
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    aggregates = {}
    for status in WINDOW_STATUSES:
        aggregates[f"{status}_hour"] = Count("id", filter=Q(status=status, updated_at__gte=hour))
        aggregates[f"{status}_day"] = Count("id", filter=Q(status=status))
    rows = (
        SyncRecord.objects.filter(updated_at__gte=day)
        .values("integration_id", "integration__slug", "flow")
        .annotate(**aggregates)
        .order_by("integration__slug", "flow")
    )
    return list(rows)


def oldest_pending(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per integration and flow: how many records wait to run and since when."""
    now = now or timezone.now()
    rows = (
        SyncRecord.objects.filter(status__in=WAITING_STATUSES)
        .values("integration__slug", "flow")
        .annotate(waiting=Count("id"), oldest=Min("created_at"))
        .order_by("oldest")
    )
    return [{**row, "age": now - row["oldest"]} for row in rows]


def poller_lag(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each poll cursor with how long since it last read successfully (None: never)."""
    now = now or timezone.now()
    cursors = PollCursor.objects.select_related("integration").order_by(
        "integration__slug", "stream"
    )
    return [
        {
            "integration__slug": c.integration.slug,
            "stream": c.stream,
            "value": c.value,
            "last_success_at": c.last_success_at,
            "lag": (now - c.last_success_at) if c.last_success_at else None,
            "last_error": c.last_error,
        }
        for c in cursors
    ]


def webhook_backlog(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Webhooks received and not processed yet, per integration and source."""
    now = now or timezone.now()
    rows = (
        WebhookEvent.objects.filter(state=WebhookEvent.State.RECEIVED)
        .values("integration__slug", "source")
        .annotate(waiting=Count("id"), oldest=Min("received_at"))
        .order_by("oldest")
    )
    return [{**row, "age": now - row["oldest"]} for row in rows]


def top_errors(*, limit: int = TOP_ERRORS) -> list[dict[str, Any]]:
    """The errors holding most records (needs attention or dead), by class and field."""
    rows = (
        SyncRecord.objects.filter(status__in=ERROR_STATUSES)
        .values("error_class", "error_field")
        .annotate(count=Count("id"))
        .order_by("-count", "error_class", "error_field")[:limit]
    )
    return list(rows)


@dataclass(frozen=True)
class Latency:
    count: int
    p50: timedelta | None
    p95: timedelta | None


def order_latency(*, now: datetime | None = None, window: timedelta = LATENCY_WINDOW) -> Latency:
    """Record created → succeeded for order-to-cash records finished within `window`.

    Percentiles by ordered offset (one indexed-range query each), which both SQLite and
    PostgreSQL run; the range is bounded by the window, so the sort stays small.
    """
    now = now or timezone.now()
    finished = SyncRecord.objects.filter(
        flow=LATENCY_FLOW, status=Status.SUCCEEDED, finished_at__gte=now - window
    ).annotate(
        latency=ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    )
    count = finished.count()
    if not count:
        return Latency(count=0, p50=None, p95=None)

    def percentile(share: float) -> timedelta:
        offset = min(count - 1, int(share * (count - 1) + 0.5))
        return finished.order_by("latency").values_list("latency", flat=True)[offset]

    return Latency(count=count, p50=percentile(0.50), p95=percentile(0.95))


def record_flows() -> list[str]:
    """Flows any integration runs (the record list's flow filter)."""
    flows: set[str] = set()
    for enabled in Integration.objects.values_list("enabled_flows", flat=True):
        flows.update(enabled or [])
    return sorted(flows)


def open_error_reasons() -> list[tuple[str, str]]:
    """(error class, field) pairs of records that need a person or are dead."""
    return list(
        SyncRecord.objects.filter(status__in=ERROR_STATUSES)
        .exclude(error_class="")
        .values_list("error_class", "error_field")
        .distinct()
        .order_by("error_class", "error_field")
    )


def dashboard(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    return {
        "now": now,
        "counts": status_counts(now=now),
        "pending": oldest_pending(now=now),
        "pollers": poller_lag(now=now),
        "webhooks": webhook_backlog(now=now),
        "errors": top_errors(),
        "latency": order_latency(now=now),
    }


# ---------------------------------------------------------------- customer 360

CUSTOMER_HISTORY = 100  # attempts shown on the customer page, newest first


def customer_360(*, link: Link) -> dict[str, Any]:
    """Everything about one linked customer: its ids on both sides, its orders with their ERP
    numbers, the records that carried it and their attempts."""
    integration_id, shop_id = link.integration_id, link.shop_id
    orders = list(
        # A customer link's shop side is the e-mail (or the shop id); the flow keeps the ERP
        # customer number it used in the record's context.
        SyncRecord.objects.filter(integration_id=integration_id, flow=LATENCY_FLOW)
        .filter(
            Q(context__customer_number=link.erp_id)
            | Q(payload_in__customer__email=shop_id)
            | Q(payload_in__customer__id=shop_id)
        )
        .order_by("-created_at")
    )
    order_numbers = dict(
        Link.objects.filter(
            integration_id=integration_id,
            entity="order",
            shop_id__in=[o.source_id for o in orders],
        ).values_list("shop_id", "erp_id")
    )
    customer_records = list(
        SyncRecord.objects.filter(integration_id=integration_id, flow__icontains="customer")
        .filter(Q(source_id=shop_id) | Q(target_id=link.erp_id))
        .order_by("-created_at")
    )
    record_ids = [r.pk for r in (*orders, *customer_records)]
    links = Link.objects.filter(
        Q(pk=link.pk) | Q(record_id__in=record_ids, entity__in=("customer", "address"))
    ).order_by("entity", "shop_id")
    history = (
        SyncAttempt.objects.filter(record_id__in=record_ids)
        .select_related("record")
        .order_by("-started_at")[:CUSTOMER_HISTORY]
    )
    return {
        "customer": link,
        "links": list(links),
        "orders": [
            {"record": o, "erp_number": order_numbers.get(o.source_id) or o.target_id}
            for o in orders
        ],
        "customer_records": customer_records,
        "history": list(history),
    }
