"""Read-only report queries for the REST API (integrations.api): aggregation runs in SQL.

Sources, as the flows write them:
- order_to_cash SyncRecord: payload_in is the canonical shop Order (reference, currency,
  total_paid, state, canonical_state, placed_at), written after extract.
- Link (entity "order"): shop order id <-> ERP order number; data holds reference,
  erp_system, and (from status_back) erp_state, shop_state, tracking, invoices [{number, date,
  currency, total, ...}], payments [{id, amount, currency, paid_at, ...}].
- status_back SyncRecord: source_id is the ERP order number, payload_out the plan (erp_state).
- PublishedStock / StockUnmatched: what the shop holds against what the ERP said.

Invoices and payments are JSON arrays inside Link.data, summed with the database's own JSON
table functions (jsonb_array_elements on PostgreSQL, json_each on SQLite).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Abs, Cast, Coalesce, TruncDate
from django.utils import timezone

from integrations.models import (
    CLAIMABLE_STATUSES,
    Link,
    PollCursor,
    PublishedStock,
    Status,
    StockUnmatched,
    SyncRecord,
    WebhookEvent,
)

ORDER_FLOW = "order_to_cash"
STATUS_BACK_FLOW = "status_back"
ORDER_ENTITY = "order"
# Amounts differing by less than this are equal (rounding between systems).
AMOUNT_TOLERANCE = Decimal("0.01")
# Shop canonical states that mean the customer has paid.
PAID_SHOP_STATES = ("paid", "processing", "shipped", "delivered", "invoiced")
# ERP states at or past shipping (status_back.ERP_STATES order).
SHIPPED_ERP_STATES = ("shipped", "delivered", "invoiced", "paid", "closed")
# Rows one reconciliation section returns at most (counts are always complete).
RECONCILIATION_MAX_ROWS = 1000
MONEY = DecimalField(max_digits=20, decimal_places=6)

RECONCILIATION_KINDS = (
    "missing_in_erp",
    "erp_without_shop_order",
    "amount_mismatch",
    "paid_in_shop_unpaid_in_erp",
)


def _json_array_sum(*, table: str, array_key: str, amount_key: str) -> str:
    """SQL for the sum of `amount_key` over the JSON array data[array_key] of `table`'s row."""
    if connection.vendor == "postgresql":
        return (
            f"(SELECT COALESCE(SUM(NULLIF(e->>'{amount_key}', '')::numeric), 0) "  # noqa: S608 - only module constants are interpolated
            f'FROM jsonb_array_elements(CASE WHEN jsonb_typeof("{table}"."data"->\'{array_key}\')'
            f" = 'array' THEN \"{table}\".\"data\"->'{array_key}' ELSE '[]'::jsonb END) e)"
        )
    return (
        f"(SELECT COALESCE(SUM(CAST(json_extract(e.value, '$.{amount_key}') AS REAL)), 0) "  # noqa: S608 - only module constants are interpolated
        f"FROM json_each(CASE WHEN json_type(\"{table}\".\"data\", '$.{array_key}') = 'array' "
        f"THEN json_extract(\"{table}\".\"data\", '$.{array_key}') ELSE '[]' END) e)"
    )


def _json_array_len(*, table: str, array_key: str) -> str:
    """SQL for the length of the JSON array data[array_key] of `table`'s row (0 if not one)."""
    if connection.vendor == "postgresql":
        return (
            f"(CASE WHEN jsonb_typeof(\"{table}\".\"data\"->'{array_key}') = 'array' "
            f'THEN jsonb_array_length("{table}"."data"->\'{array_key}\') ELSE 0 END)'
        )
    return (
        f"(CASE WHEN json_type(\"{table}\".\"data\", '$.{array_key}') = 'array' "
        f'THEN json_array_length("{table}"."data", \'$.{array_key}\') ELSE 0 END)'
    )


def _money_key(path: str) -> Cast:
    return Cast(KT(path), MONEY)


def _record_key(key: str) -> KeyTextTransform:
    """A top-level key of the linked record's payload_in, as text (KT cannot cross a join)."""
    return KeyTextTransform(key, "record__payload_in")


# ---------------------------------------------------------------- sync records


def sync_record_list() -> QuerySet[SyncRecord]:
    """Records with their integration's slug; the integration row itself is not loaded (its
    encrypted secrets would be decrypted for every row)."""
    return SyncRecord.objects.annotate(integration_slug=F("integration__slug"))


# ---------------------------------------------------------------- order to cash


def order_to_cash_list(*, integration_id: int | None = None) -> QuerySet[Link]:
    """One row per linked order, with the shop side read from the record that created it."""
    qs = Link.objects.filter(entity=ORDER_ENTITY).annotate(integration_slug=F("integration__slug"))
    if integration_id is not None:
        qs = qs.filter(integration_id=integration_id)
    link_table = Link._meta.db_table
    return qs.annotate(
        shop_total=Cast(_record_key("total_paid"), MONEY),
        shop_currency=_record_key("currency"),
        shop_state=_record_key("state"),
        shop_canonical_state=Cast(_record_key("canonical_state"), CharField()),
        invoiced_total=RawSQL(  # noqa: S611 - SQL from constants, no input
            _json_array_sum(table=link_table, array_key="invoices", amount_key="total"),
            [],
            output_field=MONEY,
        ),
        invoice_count=RawSQL(  # noqa: S611 - SQL from constants, no input
            _json_array_len(table=link_table, array_key="invoices"), [], output_field=IntegerField()
        ),
        paid_total=RawSQL(  # noqa: S611 - SQL from constants, no input
            _json_array_sum(table=link_table, array_key="payments", amount_key="amount"),
            [],
            output_field=MONEY,
        ),
    ).order_by("-id")


def order_to_cash_row(link: Link) -> dict[str, Any]:
    """Flatten one annotated link (from order_to_cash_list) into the report's row."""
    data = link.data if isinstance(link.data, dict) else {}
    tracking = data.get("tracking") if isinstance(data.get("tracking"), dict) else {}
    invoices = data.get("invoices") if isinstance(data.get("invoices"), list) else []
    payments = data.get("payments") if isinstance(data.get("payments"), list) else []
    erp_state = str(data.get("erp_state") or "")
    invoiced_total = Decimal(str(link.invoiced_total or 0))
    paid_total = Decimal(str(link.paid_total or 0))
    erp_currency = next(
        (str(x.get("currency")) for x in [*invoices, *payments] if isinstance(x, dict)), ""
    )
    return {
        "id": link.pk,
        "integration": link.integration_slug,
        "shop_order_id": link.shop_id,
        "reference": str(data.get("reference") or ""),
        "erp_order_number": link.erp_id,
        "erp_system": str(data.get("erp_system") or ""),
        "shop_state": str(data.get("shop_state") or link.shop_state or ""),
        "shop_canonical_state": link.shop_canonical_state or "",
        "erp_state": erp_state,
        "shipped": erp_state in SHIPPED_ERP_STATES or bool(tracking),
        "tracking_number": str((tracking or {}).get("number") or ""),
        "carrier": str((tracking or {}).get("carrier") or ""),
        "invoiced": bool(invoices),
        "invoice_numbers": ",".join(
            str(i.get("number") or "") for i in invoices if isinstance(i, dict)
        ),
        "paid": bool(payments)
        and link.shop_total is not None
        and paid_total >= (Decimal(str(link.shop_total)) - AMOUNT_TOLERANCE),
        "shop_total": None if link.shop_total is None else Decimal(str(link.shop_total)),
        "invoiced_total": invoiced_total,
        "paid_total": paid_total,
        "currency": link.shop_currency or erp_currency,
        "linked_at": link.created_at,
        "updated_at": link.updated_at,
    }


# ---------------------------------------------------------------- daily aggregates


@dataclass(frozen=True)
class DailyRange:
    since: date
    until: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.since, datetime.min.time()))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(
            datetime.combine(self.until + timedelta(days=1), datetime.min.time())
        )


def _daily_json(
    *, array_key: str, date_key: str, amount_key: str, rng: DailyRange, integration_id: int | None
) -> list[tuple[str, str, int, Decimal]]:
    """(day, currency, count, sum) of a JSON array inside order links' data, grouped in SQL."""
    table = Link._meta.db_table
    since, until = rng.since.isoformat(), rng.until.isoformat()
    params: list[Any] = [ORDER_ENTITY, since, until]
    extra = ""
    if integration_id is not None:
        extra = " AND l.integration_id = %s"
        params.append(integration_id)
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT substr(e->>'{date_key}', 1, 10) AS day, COALESCE(e->>'currency', '') AS cur, "  # noqa: S608 - only module constants are interpolated
            f"COUNT(*), COALESCE(SUM(NULLIF(e->>'{amount_key}', '')::numeric), 0) "
            f"FROM {table} l, jsonb_array_elements(CASE WHEN jsonb_typeof(l.data->'{array_key}')"
            f" = 'array' THEN l.data->'{array_key}' ELSE '[]'::jsonb END) e "
            f"WHERE l.entity = %s AND substr(e->>'{date_key}', 1, 10) BETWEEN %s AND %s{extra} "
            "GROUP BY 1, 2"
        )
    else:
        sql = (
            f"SELECT substr(json_extract(e.value, '$.{date_key}'), 1, 10) AS day, "  # noqa: S608 - only module constants are interpolated
            "COALESCE(json_extract(e.value, '$.currency'), '') AS cur, COUNT(*), "
            f"COALESCE(SUM(CAST(json_extract(e.value, '$.{amount_key}') AS REAL)), 0) "
            f"FROM {table} l, json_each(CASE WHEN json_type(l.data, '$.{array_key}') = 'array' "
            f"THEN json_extract(l.data, '$.{array_key}') ELSE '[]' END) e "
            f"WHERE l.entity = %s AND substr(json_extract(e.value, '$.{date_key}'), 1, 10) "
            f"BETWEEN %s AND %s{extra} GROUP BY 1, 2"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(str(r[0]), str(r[1] or ""), int(r[2]), Decimal(str(r[3]))) for r in cursor]


def daily_aggregates(*, rng: DailyRange, integration_id: int | None = None) -> list[dict[str, Any]]:
    """Per day and currency: orders received (sales), shipments, invoices, payments."""
    scope = Q() if integration_id is None else Q(integration_id=integration_id)
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(day: Any, currency: str) -> dict[str, Any]:
        key = (str(day), currency or "")
        if key not in rows:
            rows[key] = {
                "date": key[0],
                "currency": key[1],
                "orders": 0,
                "sales_total": Decimal(0),
                "shipments": 0,
                "invoices": 0,
                "invoiced_total": Decimal(0),
                "payments": 0,
                "paid_total": Decimal(0),
            }
        return rows[key]

    sales = (
        SyncRecord.objects.filter(
            scope,
            flow=ORDER_FLOW,
            created_at__gte=rng.start,
            created_at__lt=rng.end,
            payload_in__has_key="total_paid",
        )
        .annotate(day=TruncDate("created_at"), cur=KT("payload_in__currency"))
        .values("day", "cur")
        .annotate(n=Count("id"), total=Sum(_money_key("payload_in__total_paid")))
    )
    for r in sales:
        target = row(r["day"], r["cur"] or "")
        target["orders"] = r["n"]
        target["sales_total"] = Decimal(str(r["total"] or 0))

    order_currency = Subquery(
        Link.objects.filter(
            integration_id=OuterRef("integration_id"),
            entity=ORDER_ENTITY,
            erp_id=OuterRef("source_id"),
        ).values(cur=_record_key("currency"))[:1]
    )
    shipments = (
        SyncRecord.objects.filter(
            scope,
            flow=STATUS_BACK_FLOW,
            status=Status.SUCCEEDED,
            finished_at__gte=rng.start,
            finished_at__lt=rng.end,
            payload_out__erp_state="shipped",
        )
        .annotate(
            day=TruncDate("finished_at"),
            cur=Coalesce(order_currency, Value(""), output_field=CharField()),
        )
        .values("day", "cur")
        .annotate(n=Count("id"))
    )
    for r in shipments:
        row(r["day"], r["cur"] or "")["shipments"] = r["n"]

    for day, cur, n, total in _daily_json(
        array_key="invoices",
        date_key="date",
        amount_key="total",
        rng=rng,
        integration_id=integration_id,
    ):
        target = row(day, cur)
        target["invoices"], target["invoiced_total"] = n, total
    for day, cur, n, total in _daily_json(
        array_key="payments",
        date_key="paid_at",
        amount_key="amount",
        rng=rng,
        integration_id=integration_id,
    ):
        target = row(day, cur)
        target["payments"], target["paid_total"] = n, total
    return [rows[k] for k in sorted(rows)]


# ---------------------------------------------------------------- reconciliation


def _order_links(integration_id: int | None) -> QuerySet[Link]:
    qs = order_to_cash_list(integration_id=integration_id)
    return qs.filter(record__isnull=False, record__payload_in__has_key="total_paid")


def reconciliation_querysets(*, integration_id: int | None = None) -> dict[str, QuerySet]:
    """One queryset per finding kind (counted and sliced by the caller)."""
    scope = Q() if integration_id is None else Q(integration_id=integration_id)
    linked_shop = Link.objects.filter(
        integration_id=OuterRef("integration_id"),
        entity=ORDER_ENTITY,
        shop_id=OuterRef("source_id"),
    )
    linked_erp = Link.objects.filter(
        integration_id=OuterRef("integration_id"), entity=ORDER_ENTITY, erp_id=OuterRef("source_id")
    )
    missing = (
        SyncRecord.objects.filter(scope, flow=ORDER_FLOW)
        .exclude(status=Status.SKIPPED)
        .filter(~Exists(linked_shop))
        .annotate(integration_slug=F("integration__slug"))
        .order_by("created_at", "id")
    )
    orphans = (
        SyncRecord.objects.filter(scope, flow=STATUS_BACK_FLOW)
        .filter(~Exists(linked_erp))
        .annotate(integration_slug=F("integration__slug"))
        .order_by("created_at", "id")
    )
    links = _order_links(integration_id)
    mismatch = links.filter(invoice_count__gt=0).filter(
        Q(shop_total__isnull=True)
        | Q(**{"shop_total__gt": F("invoiced_total") + AMOUNT_TOLERANCE})
        | Q(**{"shop_total__lt": F("invoiced_total") - AMOUNT_TOLERANCE})
    )
    unpaid = links.filter(
        shop_canonical_state__in=PAID_SHOP_STATES,
        paid_total__lt=F("shop_total") - AMOUNT_TOLERANCE,
    )
    return {
        "missing_in_erp": missing,
        "erp_without_shop_order": orphans,
        "amount_mismatch": mismatch,
        "paid_in_shop_unpaid_in_erp": unpaid,
    }


def reconciliation(
    *,
    integration_id: int | None = None,
    kinds: tuple[str, ...] = RECONCILIATION_KINDS,
    limit: int = RECONCILIATION_MAX_ROWS,
) -> dict[str, Any]:
    sets = reconciliation_querysets(integration_id=integration_id)
    counts: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for kind in kinds:
        qs = sets[kind]
        counts[kind] = qs.count()
        if kind in ("missing_in_erp", "erp_without_shop_order"):
            for rec in qs[:limit]:
                shop_side = kind == "missing_in_erp"
                payload = rec.payload_in if isinstance(rec.payload_in, dict) else {}
                total = payload.get("total_paid") if shop_side else None
                results.append(
                    {
                        "kind": kind,
                        "integration": rec.integration_slug,
                        "shop_order_id": rec.source_id if shop_side else "",
                        "reference": rec.reference,
                        "erp_order_number": "" if shop_side else rec.source_id,
                        "shop_total": _decimal_or_none(total),
                        "erp_total": None,
                        "currency": str(payload.get("currency") or "") if shop_side else "",
                        "record_id": rec.pk,
                        "record_status": rec.status,
                        "detail": rec.error_message[:500],
                        "since": rec.created_at,
                    }
                )
        else:
            for link in qs[:limit]:
                erp_total = link.invoiced_total if kind == "amount_mismatch" else link.paid_total
                results.append(
                    {
                        "kind": kind,
                        "integration": link.integration_slug,
                        "shop_order_id": link.shop_id,
                        "reference": str((link.data or {}).get("reference") or ""),
                        "erp_order_number": link.erp_id,
                        "shop_total": _decimal_or_none(link.shop_total),
                        "erp_total": _decimal_or_none(erp_total),
                        "currency": link.shop_currency or "",
                        "record_id": link.record_id,
                        "record_status": "",
                        "detail": (
                            "invoiced total differs from the shop order total"
                            if kind == "amount_mismatch"
                            else "paid in the shop, ERP payments do not cover the total"
                        ),
                        "since": link.created_at,
                    }
                )
    return {"generated_at": timezone.now(), "counts": counts, "results": results}


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


# ---------------------------------------------------------------- inventory drift


def inventory_drift_list(*, integration_id: int | None = None) -> QuerySet[PublishedStock]:
    """Items whose shop quantity is not what the ERP said, or unknown, or still pending."""
    qs = PublishedStock.objects.annotate(integration_slug=F("integration__slug"))
    if integration_id is not None:
        qs = qs.filter(integration_id=integration_id)
    return (
        qs.annotate(drift=F("erp_quantity") - Cast(F("quantity"), MONEY))
        .filter(
            Q(quantity__isnull=True)
            | Q(target__isnull=False)
            | Q(erp_quantity__isnull=False, drift__gt=0)
            | Q(erp_quantity__isnull=False, drift__lt=0)
        )
        .annotate(abs_drift=Abs(F("drift")))
        .order_by("id")
    )


def inventory_unmatched_count(*, integration_id: int | None = None) -> int:
    qs = StockUnmatched.objects.all()
    if integration_id is not None:
        qs = qs.filter(integration_id=integration_id)
    return qs.count()


# ---------------------------------------------------------------- health


def integration_health(*, integration_id: int | None = None) -> dict[str, Any]:
    now = timezone.now()
    scope = Q() if integration_id is None else Q(integration_id=integration_id)

    def counts(since: datetime) -> list[dict[str, Any]]:
        return list(
            SyncRecord.objects.filter(scope, updated_at__gte=since)
            .values("flow", "status")
            .annotate(count=Count("id"))
            .order_by("flow", "status")
        )

    open_counts = {
        r["status"]: r["count"]
        for r in SyncRecord.objects.filter(
            scope,
            status__in=[*CLAIMABLE_STATUSES, Status.RUNNING, Status.NEEDS_ATTENTION, Status.DEAD],
        )
        .values("status")
        .annotate(count=Count("id"))
        .order_by()
    }
    oldest = SyncRecord.objects.filter(scope, status__in=CLAIMABLE_STATUSES).aggregate(
        at=Min("created_at")
    )["at"]
    cursors = (
        PollCursor.objects.filter(scope)
        .annotate(integration_slug=F("integration__slug"))
        .order_by("id")
    )
    pollers = [
        {
            "integration": c.integration_slug,
            "stream": c.stream,
            "last_run_at": c.last_run_at,
            "last_success_at": c.last_success_at,
            "lag_seconds": (
                None
                if c.last_success_at is None
                else round((now - c.last_success_at).total_seconds(), 1)
            ),
            "last_error": c.last_error[:500],
        }
        for c in cursors[:200]
    ]
    backlog = WebhookEvent.objects.filter(scope, state=WebhookEvent.State.RECEIVED).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    return {
        "generated_at": now,
        "last_hour": counts(now - timedelta(hours=1)),
        "last_day": counts(now - timedelta(days=1)),
        "open": {str(k): v for k, v in open_counts.items()},
        "oldest_pending_at": oldest,
        "oldest_pending_age_seconds": (
            None if oldest is None else round((now - oldest).total_seconds(), 1)
        ),
        "pollers": pollers,
        "max_poller_lag_seconds": max(
            (p["lag_seconds"] for p in pollers if p["lag_seconds"] is not None), default=None
        ),
        "webhook_backlog": {
            "count": backlog["count"],
            "oldest_received_at": backlog["oldest"],
            "age_seconds": (
                None
                if backlog["oldest"] is None
                else round((now - backlog["oldest"]).total_seconds(), 1)
            ),
        },
    }
