"""The report API against a large history: p50/p95 per report over many runs.

Seeds N_RECORDS SyncRecords by bulk SQL (PostgreSQL generate_series): 60% order_to_cash (each
a canonical order in payload_in, in EUR, USD or GBP), 30% status_back, 10% stock; statuses
spread like a live system's; created over the last DAYS days. Succeeded orders get an order
Link with invoices and payments (some short-paid or mis-invoiced, so reconciliation finds
something); PublishedStock gets N_STOCK items, a tenth of them drifted. Then every report is
requested through the full stack (token auth, DRF, serializers) RUNS times; p50/p95 per report
against TARGET_P95_MS.

Run on a database of its own: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/
shopsync_bench_reports python -m bench reports` (migrated here; reseeded only when its size
differs). BENCH_REPORTS_N overrides N_RECORDS. On SQLite it seeds N_SQLITE records by a
recursive CTE instead.
"""

import os
import statistics
import time
from typing import Any

from django.core.management import call_command
from django.db import connection
from django.test import override_settings

N_RECORDS = int(os.environ.get("BENCH_REPORTS_N", 1_000_000))
N_SQLITE = 100_000
N_STOCK = 100_000
DAYS = 90
RUNS = 30
WARMUP = 3
TARGET_P95_MS = 500
SLUG = "bench-reports"

REPORTS = {
    "sync_records_first_page": "/api/v1/sync-records/",
    "sync_records_needs_attention": "/api/v1/sync-records/?status=needs_attention",
    "sync_records_by_reference": "/api/v1/sync-records/?reference=REF500000",
    "sync_records_by_date": "/api/v1/sync-records/?flow=order_to_cash&date={today}",
    "orders_first_page": "/api/v1/reports/orders/",
    "orders_by_reference": "/api/v1/reports/orders/?reference=REF500000",
    "daily_30_days": "/api/v1/reports/daily/",
    "daily_90_days": "/api/v1/reports/daily/?since={since90}",
    "reconciliation": "/api/v1/reports/reconciliation/?limit=100",
    "inventory_drift": "/api/v1/reports/inventory-drift/",
    "health": "/api/v1/reports/health/",
    "orders_csv": "/api/v1/reports/orders/?format=csv&page_size=1000",
}


def _seed_postgres(integration_id: int, n: int) -> None:
    # Positions 1..n; g mod 10 picks the flow, g mod 20 the status, g mod 3 the currency.
    sql = f"""
    INSERT INTO integrations_syncrecord (integration_id, flow, direction, source_system,
        source_id, reference, idempotency_key, status, step, attempts, failures, claim_token,
        claimed_by, payload_in, payload_out, context, target_id, error_class, error_message,
        error_field, error_value, resolution_note, timings, created_at, updated_at,
        finished_at)
    SELECT {integration_id},
        f.flow,
        CASE WHEN f.flow = 'order_to_cash' THEN 'shop_to_erp' ELSE 'erp_to_shop' END,
        CASE WHEN f.flow = 'order_to_cash' THEN 'prestashop' ELSE 'infor_m3' END,
        CASE WHEN f.flow = 'order_to_cash' THEN g::text ELSE 'M3-' || (g - 6)::text END,
        'REF' || g::text,
        f.flow || ':' || g::text,
        s.status, '', 1, 0, '', '',
        CASE WHEN f.flow = 'order_to_cash' THEN jsonb_build_object(
            'id', g::text, 'reference', 'REF' || g::text, 'state', '2',
            'canonical_state', CASE WHEN mod(g, 4) = 0 THEN 'new' ELSE 'paid' END,
            'currency', (ARRAY['EUR','USD','GBP'])[mod(g, 3) + 1],
            'total_paid', ((mod(g, 500)) + 10)::text || '.50')
        ELSE '{{}}'::jsonb END,
        CASE WHEN f.flow = 'status_back' THEN
            jsonb_build_object('erp_state',
                (ARRAY['processing','shipped','invoiced'])[mod(g, 3) + 1])
        ELSE NULL END,
        '{{}}'::jsonb, '', '', CASE WHEN s.status = 'needs_attention'
            THEN 'line 1 sku ''X'': no ERP item' ELSE '' END, '', '', '', '{{}}'::jsonb,
        t.at, t.at,
        CASE WHEN s.status IN ('succeeded', 'skipped') THEN t.at ELSE NULL END
    FROM generate_series(1, {n}) g,
        LATERAL (SELECT CASE WHEN mod(g, 10) < 6 THEN 'order_to_cash'
                             WHEN mod(g, 10) < 9 THEN 'status_back' ELSE 'stock' END AS flow) f,
        LATERAL (SELECT CASE WHEN mod(g, 20) = 0 THEN 'needs_attention'
                             WHEN mod(g, 20) = 1 THEN 'pending'
                             WHEN mod(g, 50) = 2 THEN 'dead' WHEN mod(g, 20) = 3 THEN 'retrying'
                             WHEN mod(g, 20) = 4 THEN 'skipped' ELSE 'succeeded' END AS status) s,
        LATERAL (SELECT now() - ((({n} - g)::float / {n}) * interval '{DAYS} days') AS at) t
    """  # noqa: S608 - bench constants only
    links = """
    INSERT INTO integrations_link (integration_id, entity, shop_id, erp_id, record_id, data,
        created_at, updated_at)
    SELECT r.integration_id, 'order', r.source_id, 'M3-' || r.source_id, r.id,
        jsonb_build_object(
            'reference', r.reference, 'erp_system', 'infor_m3',
            'erp_state', (ARRAY['processing','shipped','invoiced'])[mod(r.id, 3) + 1],
            'tracking', CASE WHEN mod(r.id, 3) > 0 THEN jsonb_build_object('number', 'TRK' || r.id,
                'carrier', 'DHL') ELSE NULL END,
            'invoices', CASE WHEN mod(r.id, 3) = 2 THEN jsonb_build_array(jsonb_build_object(
                'number', 'INV' || r.id, 'date', to_char(r.created_at, 'YYYY-MM-DD'),
                'currency', r.payload_in->>'currency',
                'total', CASE WHEN mod(r.id, 97) = 0 THEN '1.00' ELSE r.payload_in->>'total_paid'
                         END)) ELSE '[]'::jsonb END,
            'payments', CASE WHEN mod(r.id, 3) = 2 AND mod(r.id, 89) <> 0 THEN jsonb_build_array(
                jsonb_build_object('id', 'P' || r.id, 'currency', r.payload_in->>'currency',
                'amount', r.payload_in->>'total_paid', 'paid_at', r.created_at))
                ELSE '[]'::jsonb END),
        r.created_at, r.created_at
    FROM integrations_syncrecord r
    WHERE r.integration_id = %s AND r.flow = 'order_to_cash' AND r.status = 'succeeded'
    """
    stock = f"""
    INSERT INTO integrations_publishedstock (integration_id, sku, product_id, combination_id,
        stock_available_id, quantity, erp_quantity, target, published_at, checked_at)
    SELECT {integration_id}, 'SKU' || g, g::text, '0', g::text, mod(g, 50),
        CASE WHEN mod(g, 10) = 0 THEN (mod(g, 50)) + 3 ELSE mod(g, 50) END, NULL, now(), now()
    FROM generate_series(1, {N_STOCK}) g
    """  # noqa: S608 - bench constants only
    # A bulk load: the report triggers (migration 0007) off, then everything they keep is
    # recomputed in one pass; statement by statement a million rows would take far longer.
    tables = ("integrations_syncrecord", "integrations_link")
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            cursor.execute(sql)
            cursor.execute(links, [integration_id])
        finally:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        cursor.execute(stock)
        cursor.execute("ANALYZE")
        cursor.execute("SELECT shopsync_report_rebuild_all()")
        cursor.execute("VACUUM ANALYZE integrations_reportdaily")
        cursor.execute("VACUUM ANALYZE integrations_reportfinding")


def _seed_sqlite(integration_id: int, n: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    start = (timezone.now() - timedelta(days=DAYS)).timestamp()
    step = DAYS * 86400 / n
    sql = f"""
    WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})
    INSERT INTO integrations_syncrecord (integration_id, flow, direction, source_system,
        source_id, reference, idempotency_key, status, step, attempts, failures, claim_token,
        claimed_by, payload_in, payload_out, context, target_id, error_class, error_message,
        error_field, error_value, resolution_note, timings, created_at, updated_at)
    SELECT {integration_id}, CASE WHEN i % 10 < 6 THEN 'order_to_cash' ELSE 'status_back' END,
        'shop_to_erp', 'prestashop', i, 'REF' || i, 'k:' || i,
        CASE WHEN i % 20 = 0 THEN 'needs_attention' ELSE 'succeeded' END, '', 1, 0, '', '',
        json_object('reference', 'REF' || i, 'currency', 'EUR', 'total_paid', '10.50',
            'canonical_state', 'paid'),
        NULL, '{{}}', '', '', '', '', '', '', '{{}}',
        datetime({start} + i * {step}, 'unixepoch'), datetime({start} + i * {step}, 'unixepoch')
    FROM g
    """  # noqa: S608 - bench constants only
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _drop(integration_id: int) -> None:
    """Remove an earlier run's data in bulk (no per-row cascade in Python); the report
    triggers (PostgreSQL) are off meanwhile, the seed that follows recomputes what they keep."""
    if connection.vendor != "postgresql":
        _delete_rows(integration_id)
        return
    with connection.cursor() as cursor:
        for table in ("integrations_syncrecord", "integrations_link"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        _delete_rows(integration_id)
    finally:
        with connection.cursor() as cursor:
            for table in ("integrations_syncrecord", "integrations_link"):
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _delete_rows(integration_id: int) -> None:
    with connection.cursor() as cursor:
        for table in (
            "integrations_link",
            "integrations_syncattempt",
            "integrations_syncrecord",
            "integrations_publishedstock",
        ):
            column = "integration_id"
            if table == "integrations_syncattempt":
                cursor.execute(
                    "DELETE FROM integrations_syncattempt WHERE record_id IN "
                    "(SELECT id FROM integrations_syncrecord WHERE integration_id = %s)",
                    [integration_id],
                )
                continue
            cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [integration_id])  # noqa: S608
        cursor.execute(
            "UPDATE integrations_integration SET slug = slug || '-old-' || id WHERE id = %s",
            [integration_id],
        )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def run() -> dict[str, Any]:
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from integrations.models import Integration, Link, PublishedStock, SyncRecord
    from tests.factories import IntegrationFactory

    call_command("migrate", verbosity=0)
    n = N_RECORDS if connection.vendor == "postgresql" else min(N_RECORDS, N_SQLITE)
    # Ids only: the stored secrets were encrypted with an earlier run's throwaway key.
    integration_id = Integration.objects.filter(slug=SLUG).values_list("pk", flat=True).first()
    seeded = SyncRecord.objects.filter(integration_id=integration_id).count()
    # The stock rows are written last: present, the seed finished.
    complete = PublishedStock.objects.filter(integration_id=integration_id).exists()
    seed_seconds = None
    if integration_id is None or seeded != n or not complete:
        if integration_id is not None:
            _drop(integration_id)
        suffix = int(time.time())
        integration_id = IntegrationFactory(
            slug=SLUG,
            shop_connection__name=f"{SLUG}-shop-{suffix}",
            erp_connection__name=f"{SLUG}-erp-{suffix}",
        ).pk
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            _seed_postgres(integration_id, n)
        else:
            _seed_sqlite(integration_id, n)
        seed_seconds = round(time.perf_counter() - started, 1)
    if connection.vendor == "postgresql":
        # As autovacuum leaves a table at rest: statistics current and the visibility map set
        # (index-only scans), whether this run seeded or reused the data.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    user = User.objects.filter(username="bench-reports").first() or User.objects.create_superuser(
        "bench-reports", "bench@example.com", "x"
    )
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    today = timezone.localdate()
    values = {"today": today.isoformat(), "since90": (today - timedelta(days=89)).isoformat()}
    figures: dict[str, Any] = {
        "database": connection.vendor,
        "sync_records": SyncRecord.objects.filter(integration_id=integration_id).count(),
        "order_links": Link.objects.filter(integration_id=integration_id).count(),
        "published_stock": PublishedStock.objects.filter(integration_id=integration_id).count(),
        "seed_seconds": seed_seconds,
        "runs": RUNS,
        "target_p95_ms": TARGET_P95_MS,
        "reports": {},
    }
    with override_settings(ALLOWED_HOSTS=["testserver"], API_THROTTLE_RATE="1000000/min"):
        for name, url in REPORTS.items():
            url = url.format(**values)
            timings = []
            for i in range(WARMUP + RUNS):
                started = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (url, response.status_code, response.content)
                if i >= WARMUP:
                    timings.append(elapsed)
            p95 = _percentile(timings, 0.95)
            figures["reports"][name] = {
                "url": url,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(p95, 1),
                "meets_target": p95 < TARGET_P95_MS,
            }
    figures["all_meet_target"] = all(r["meets_target"] for r in figures["reports"].values())
    return figures
