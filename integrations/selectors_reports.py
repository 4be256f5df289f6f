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

On PostgreSQL the daily report and the reconciliation read tables that statement triggers keep
exact on every write (migration 0007): integrations_reportdaily (per day, currency and kind)
and integrations_reportfinding (one row per current finding, with its counts). Aggregating
live took 1-7 s at 1,000,000 records; the live queries stay, for SQLite and for the tests that
compare the two (tests/api/test_report_summary.py).
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
    Func,
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


def _entry(key: str) -> str:
    """SQLite: key of the json_each entry e, NULL when e is not an object (json_extract on a
    scalar entry would fail the whole query: "malformed JSON")."""
    return f"CASE WHEN e.type = 'object' THEN json_extract(e.value, '$.{key}') END"


def _json_array_sum(*, table: str, array_key: str, amount_key: str) -> str:
    """SQL for the sum of `amount_key` over the JSON array data[array_key] of `table`'s row."""
    if connection.vendor == "postgresql":
        return (
            f"(SELECT COALESCE(SUM(shopsync_report_amount(e->>'{amount_key}')), 0) "  # noqa: S608 - only module constants are interpolated
            f'FROM jsonb_array_elements(CASE WHEN jsonb_typeof("{table}"."data"->\'{array_key}\')'
            f" = 'array' THEN \"{table}\".\"data\"->'{array_key}' ELSE '[]'::jsonb END) e)"
        )
    return (
        f"(SELECT COALESCE(SUM(CAST({_entry(amount_key)} AS REAL)), 0) "  # noqa: S608 - only module constants are interpolated
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


def _amount(text: Any) -> Cast:
    """A JSON amount as a number. On PostgreSQL through shopsync_report_amount (migration
    0007): a value that is not a number is no amount instead of an error for the whole report,
    as in the daily summary."""
    if connection.vendor == "postgresql":
        text = Func(text, function="shopsync_report_amount", output_field=MONEY)
    return Cast(text, MONEY)


def _money_key(path: str) -> Cast:
    return _amount(KT(path))


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
        shop_total=_amount(_record_key("total_paid")),
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
            f"COUNT(*), COALESCE(SUM(shopsync_report_amount(e->>'{amount_key}')), 0) "
            f"FROM {table} l, jsonb_array_elements(CASE WHEN jsonb_typeof(l.data->'{array_key}')"
            f" = 'array' THEN l.data->'{array_key}' ELSE '[]'::jsonb END) e "
            f"WHERE l.entity = %s AND substr(e->>'{date_key}', 1, 10) BETWEEN %s AND %s{extra} "
            "GROUP BY 1, 2"
        )
    else:
        sql = (
            f"SELECT substr({_entry(date_key)}, 1, 10) AS day, "  # noqa: S608 - only module constants are interpolated
            f"COALESCE({_entry('currency')}, '') AS cur, COUNT(*), "
            f"COALESCE(SUM(CAST({_entry(amount_key)} AS REAL)), 0) "
            f"FROM {table} l, json_each(CASE WHEN json_type(l.data, '$.{array_key}') = 'array' "
            f"THEN json_extract(l.data, '$.{array_key}') ELSE '[]' END) e "
            f"WHERE l.entity = %s AND substr({_entry(date_key)}, 1, 10) "
            f"BETWEEN %s AND %s{extra} GROUP BY 1, 2"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(str(r[0]), str(r[1] or ""), int(r[2]), Decimal(str(r[3]))) for r in cursor]


class _DailyRows:
    """The report's rows by (day, currency); groups the database keeps apart (a null and an
    empty currency) add up into one."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(self, day: Any, currency: str) -> dict[str, Any]:
        key = (str(day), currency or "")
        if key not in self.rows:
            self.rows[key] = {
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
        return self.rows[key]

    def sorted(self) -> list[dict[str, Any]]:
        return [self.rows[k] for k in sorted(self.rows)]


# integrations_reportdaily (migration 0007): kind -> the report's (count, total) columns.
SUMMARY_TABLE = "integrations_reportdaily"
SUMMARY_COLUMNS = {
    1: ("orders", "sales_total"),
    2: ("shipments", None),
    3: ("invoices", "invoiced_total"),
    4: ("payments", "paid_total"),
}
# Appended rows folded into one per group once there are more than this many.
SUMMARY_COMPACT_AFTER = 1000


def daily_summary_available() -> bool:
    """The summary exists on PostgreSQL only, and counts sales and shipments by UTC day."""
    return connection.vendor == "postgresql" and timezone.get_current_timezone_name() == "UTC"


def daily_summary_compact() -> int:
    """Fold the rows the triggers appended into one per group; returns the groups written.

    One statement: rows another compaction already took are skipped, and rows of writers
    not yet committed are not seen, so no change is counted twice or lost.
    """
    table = SUMMARY_TABLE
    key = "integration_id, day, currency, kind"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH keys AS (SELECT DISTINCT {key} FROM {table} WHERE NOT compacted), "  # noqa: S608 - constants
            f"moved AS (DELETE FROM {table} t USING keys k WHERE t.integration_id = "
            "k.integration_id AND t.day = k.day AND t.currency = k.currency AND t.kind = k.kind "
            "RETURNING t.integration_id, t.day, t.currency, t.kind, t.n, t.total) "
            f"INSERT INTO {table} ({key}, n, total, compacted) "
            f"SELECT {key}, SUM(n), SUM(total), true FROM moved GROUP BY {key} "
            "HAVING SUM(n) <> 0 OR COALESCE(SUM(total), 0) <> 0"
        )
        return cursor.rowcount


def daily_aggregates_summary(
    *, rng: DailyRange, integration_id: int | None = None
) -> list[dict[str, Any]]:
    """The daily report from integrations_reportdaily (PostgreSQL, UTC days)."""
    table = SUMMARY_TABLE
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE NOT compacted LIMIT %s) d",  # noqa: S608 - constants
            [SUMMARY_COMPACT_AFTER + 1],
        )
        pending = cursor.fetchone()[0]
    if pending > SUMMARY_COMPACT_AFTER:
        daily_summary_compact()
    params: list[Any] = [rng.since.isoformat(), rng.until.isoformat()]
    extra = ""
    if integration_id is not None:
        extra = " AND integration_id = %s"
        params.append(integration_id)
    rows = _DailyRows()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, currency, kind, SUM(n), COALESCE(SUM(total), 0) FROM {table} "  # noqa: S608 - constants
            f"WHERE day BETWEEN %s AND %s{extra} GROUP BY day, currency, kind "
            "HAVING SUM(n) <> 0",
            params,
        )
        for day, currency, kind, n, total in cursor:
            count_column, total_column = SUMMARY_COLUMNS[kind]
            target = rows.row(day, currency)
            target[count_column] += int(n)
            if total_column:
                target[total_column] += Decimal(str(total))
    return rows.sorted()


def daily_aggregates(*, rng: DailyRange, integration_id: int | None = None) -> list[dict[str, Any]]:
    """Per day and currency: orders received (sales), shipments, invoices, payments."""
    if daily_summary_available():
        return daily_aggregates_summary(rng=rng, integration_id=integration_id)
    return daily_aggregates_live(rng=rng, integration_id=integration_id)


def daily_aggregates_live(
    *, rng: DailyRange, integration_id: int | None = None
) -> list[dict[str, Any]]:
    """Per day and currency: orders received (sales), shipments, invoices, payments, read from
    the records and links themselves (SQLite, a non-UTC time zone, and the summary's check)."""
    scope = Q() if integration_id is None else Q(integration_id=integration_id)
    rows = _DailyRows()
    row = rows.row

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
        target["orders"] += r["n"]
        target["sales_total"] += Decimal(str(r["total"] or 0))

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
        row(r["day"], r["cur"] or "")["shipments"] += r["n"]

    for day, cur, n, total in _daily_json(
        array_key="invoices",
        date_key="date",
        amount_key="total",
        rng=rng,
        integration_id=integration_id,
    ):
        target = row(day, cur)
        target["invoices"] += n
        target["invoiced_total"] += total
    for day, cur, n, total in _daily_json(
        array_key="payments",
        date_key="paid_at",
        amount_key="amount",
        rng=rng,
        integration_id=integration_id,
    ):
        target = row(day, cur)
        target["payments"] += n
        target["paid_total"] += total
    return rows.sorted()


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


# integrations_reportfinding (migration 0007): kind -> its number there.
FINDINGS_TABLE = "integrations_reportfinding"
FINDING_KINDS = {
    "missing_in_erp": 1,
    "erp_without_shop_order": 2,
    "amount_mismatch": 3,
    "paid_in_shop_unpaid_in_erp": 4,
}


FINDING_COUNTS_TABLE = "integrations_reportfindingcount"


def reconciliation_counts_compact() -> int:
    """Fold the appended count rows into one per (kind, integration); as daily_summary_compact,
    one statement, so concurrent folds and writers neither lose nor repeat a change."""
    table = FINDING_COUNTS_TABLE
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH keys AS (SELECT DISTINCT kind, integration_id "  # noqa: S608 - constants
            f"FROM {table} WHERE NOT compacted), "
            f"moved AS (DELETE FROM {table} t USING keys k WHERE t.kind = k.kind "
            "AND t.integration_id = k.integration_id RETURNING t.kind, t.integration_id, t.n) "
            f"INSERT INTO {table} (kind, integration_id, n, compacted) "
            "SELECT kind, integration_id, SUM(n), true FROM moved GROUP BY kind, integration_id "
            "HAVING SUM(n) <> 0"
        )
        return cursor.rowcount


def reconciliation_finding_counts(
    *, integration_id: int | None = None, kinds: tuple[str, ...] = RECONCILIATION_KINDS
) -> dict[str, int]:
    """How many findings of each kind (PostgreSQL: integrations_reportfindingcount)."""
    table = FINDING_COUNTS_TABLE
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE NOT compacted LIMIT %s) d",  # noqa: S608 - constants
            [SUMMARY_COMPACT_AFTER + 1],
        )
        if cursor.fetchone()[0] > SUMMARY_COMPACT_AFTER:
            reconciliation_counts_compact()
    params: list[Any] = [[FINDING_KINDS[k] for k in kinds]]
    extra = ""
    if integration_id is not None:
        extra = " AND integration_id = %s"
        params.append(integration_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, SUM(n) FROM {table} WHERE kind = ANY(%s){extra} GROUP BY kind",  # noqa: S608 - constants
            params,
        )
        found = dict(cursor.fetchall())
    return {k: int(found.get(FINDING_KINDS[k]) or 0) for k in kinds}


def _finding_ids(kind: str, *, integration_id: int | None, limit: int) -> list[int]:
    # Records oldest first (as the live queryset), links newest first.
    order = "since, object_id" if FINDING_KINDS[kind] in (1, 2) else "object_id DESC"
    params: list[Any] = [FINDING_KINDS[kind]]
    extra = ""
    if integration_id is not None:
        extra = " AND integration_id = %s"
        params.append(integration_id)
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT object_id FROM {FINDINGS_TABLE} WHERE kind = %s{extra} "  # noqa: S608 - constants
            f"ORDER BY {order} LIMIT %s",
            params,
        )
        return [row[0] for row in cursor]


def reconciliation_finding_querysets(
    *,
    integration_id: int | None = None,
    kinds: tuple[str, ...] = RECONCILIATION_KINDS,
    limit: int = RECONCILIATION_MAX_ROWS,
) -> dict[str, QuerySet]:
    """The first `limit` findings of each kind, as reconciliation_querysets shapes them."""
    sets: dict[str, QuerySet] = {}
    for kind in kinds:
        ids = _finding_ids(kind, integration_id=integration_id, limit=limit)
        if kind in ("missing_in_erp", "erp_without_shop_order"):
            sets[kind] = (
                SyncRecord.objects.filter(pk__in=ids)
                .annotate(integration_slug=F("integration__slug"))
                .order_by("created_at", "id")
            )
        else:
            sets[kind] = order_to_cash_list().filter(pk__in=ids)
    return sets


def reconciliation(
    *,
    integration_id: int | None = None,
    kinds: tuple[str, ...] = RECONCILIATION_KINDS,
    limit: int = RECONCILIATION_MAX_ROWS,
) -> dict[str, Any]:
    """Counts of every kind asked for, and the first `limit` findings of each.

    On PostgreSQL read from integrations_reportfinding (kept by triggers, migration 0007);
    elsewhere from reconciliation_querysets. Both give the same answer (tests/api).
    """
    findings = connection.vendor == "postgresql"
    sets = (
        reconciliation_finding_querysets(integration_id=integration_id, kinds=kinds, limit=limit)
        if findings
        else reconciliation_querysets(integration_id=integration_id)
    )
    counts: dict[str, int] = (
        reconciliation_finding_counts(integration_id=integration_id, kinds=kinds)
        if findings
        else {}
    )
    results: list[dict[str, Any]] = []
    for kind in kinds:
        qs = sets[kind]
        if not findings:
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
        # COUNT(*), not COUNT(id): the status index alone answers it (index-only scan).
        .annotate(count=Count("*"))
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
