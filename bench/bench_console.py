"""The ops console with many sync records: dashboard, flow view, charts and record list times.

Seeds BENCH_CONSOLE_N records (default 1,000,000) by one INSERT … SELECT generate_series on
PostgreSQL, into a database of its own (shopsync_bench_console, or $BENCH_CONSOLE_DB; kept
between runs so a re-run only tops it up), then times each page through Django's test client
as a superuser: the median of REPEAT renders after one warm-up, the full request (selectors,
template, admin).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shopsync_dev python -m bench console

Shape of the data: 3 integrations x 3 flows; created in id order over the last 30 days;
94% succeeded, 3% needs attention (5 error reasons), 1% dead, 1% retrying, 1% pending; each
at the step the pipeline leaves it (succeeded at reconcile, needs attention at transform,
validate or load, dead at load, retrying at extract, load or reconcile, pending not started).
"""

import os
import statistics
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

PER_BACKEND = True
N = int(os.environ.get("BENCH_CONSOLE_N", 1_000_000))
REPEAT = 5
# The seeded database, kept between runs; set BENCH_CONSOLE_DB to keep one of your own.
DATABASE = os.environ.get("BENCH_CONSOLE_DB", "shopsync_bench_console")
SEED_CHUNK = 250_000  # rows per INSERT … SELECT statement

SEED_SQL = """
INSERT INTO integrations_syncrecord (
    integration_id, flow, direction, source_system, source_id, reference, idempotency_key,
    status, step, attempts, failures, claim_token, claimed_by, payload_in, context, target_id,
    error_class, error_message, error_field, error_value, resolution_note, timings,
    created_at, updated_at, finished_at
)
SELECT
    (%(integrations)s)[1 + g %% 3],
    (ARRAY['order_to_cash', 'inventory', 'customers'])[1 + (g / 3) %% 3],
    'shop_to_erp', 'prestashop', g::text, 'PS' || lpad(g::text, 8, '0'), 'prestashop:' || g,
    s.status,
    CASE s.status
        WHEN 'succeeded' THEN 'reconcile'
        WHEN 'needs_attention' THEN (ARRAY['transform', 'validate', 'load'])[1 + (g / 7) %% 3]
        WHEN 'dead' THEN 'load'
        WHEN 'retrying' THEN (ARRAY['extract', 'load', 'reconcile'])[1 + (g / 7) %% 3]
        ELSE ''
    END,
    1, 0, '', '',
    jsonb_build_object(
        'customer', jsonb_build_object('email', 'c' || (g %% 50000) || '@example.com')
    ),
    '{}'::jsonb,
    CASE WHEN s.status = 'succeeded' THEN 'M3-' || g ELSE '' END,
    CASE WHEN s.status IN ('needs_attention', 'dead') THEN e.cls ELSE '' END,
    CASE WHEN s.status IN ('needs_attention', 'dead') THEN 'bench error ' || e.cls ELSE '' END,
    CASE WHEN s.status IN ('needs_attention', 'dead') THEN e.field ELSE '' END,
    CASE WHEN s.status IN ('needs_attention', 'dead') THEN 'SKU-' || (g %% 400) ELSE '' END,
    '', '{}'::jsonb,
    t.created, t.created + (g %% 600) * interval '1 second',
    CASE WHEN s.status = 'succeeded' THEN t.created + (5 + g %% 120) * interval '1 second' END
FROM generate_series(%(start)s, %(stop)s) AS g
CROSS JOIN LATERAL (
    SELECT now() - (%(n)s - g) * (2592000.0 / %(n)s) * interval '1 second' AS created
) AS t
CROSS JOIN LATERAL (SELECT CASE
    WHEN g %% 100 < 94 THEN 'succeeded' WHEN g %% 100 < 97 THEN 'needs_attention'
    WHEN g %% 100 < 98 THEN 'dead' WHEN g %% 100 < 99 THEN 'retrying' ELSE 'pending'
    END AS status) AS s
CROSS JOIN LATERAL (SELECT
    (ARRAY['UnknownItem', 'DataError', 'CustomerConflict', 'Timeout', 'ErpRejected'])[1 + g %% 5]
        AS cls,
    (ARRAY['lines.1.sku', 'CUOR', 'customer.email', '', 'ITNO'])[1 + g %% 5] AS field) AS e
"""


def _use_own_database() -> None:
    settings.DATABASES["default"]["TEST"] = {
        **settings.DATABASES["default"].get("TEST", {}),
        "NAME": DATABASE,
    }
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True, serialize=False)


def _seed() -> dict[str, Any]:
    from connectors.models import Connection
    from integrations.models import Integration, SyncRecord
    from tests.factories import IntegrationFactory

    # The encryption keys are made per run (config/test_settings.py): re-encrypt the kept
    # integrations' secrets with this run's key before anything reads them.
    kept = Integration.objects.filter(slug__startswith="bench-console-")
    kept.update(webhook_secrets={})
    connections = kept.values_list("shop_connection", "erp_connection")
    Connection.objects.filter(id__in=[pk for pair in connections for pk in pair]).update(
        credentials={"api_key": "BENCHKEY"}
    )
    integrations = list(kept)
    while len(integrations) < 3:
        integrations.append(IntegrationFactory(slug=f"bench-console-{len(integrations)}"))
    have = SyncRecord.objects.count()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(have + 1, N + 1, SEED_CHUNK):
            cursor.execute(
                SEED_SQL,
                {
                    "integrations": [i.pk for i in integrations[:3]],
                    "start": start,
                    "n": N,
                    "stop": min(N, start + SEED_CHUNK - 1),
                },
            )
        cursor.execute("ANALYZE integrations_syncrecord")
    return {
        "records": SyncRecord.objects.count(),
        "seeded_now": max(0, N - have),
        "seed_seconds": round(time.perf_counter() - started, 1),
    }


def _time(client, url: str, params: dict[str, str] | None = None) -> float:
    response = client.get(url, params or {})
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(url, params or {})
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def _time_call(fn) -> float:
    fn()
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def _plan_indexes(node: dict[str, Any]) -> set[str]:
    found = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= _plan_indexes(child)
    return found


def _explain(fn) -> list[dict[str, Any]]:
    """Each SyncRecord query `fn` runs, explained by PostgreSQL: its execution time alone (no
    Python, no template) and the indexes its plan reads."""
    import json

    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if "integrations_syncrecord" not in query["sql"]:
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            result = cursor.fetchone()[0]
            [plan] = json.loads(result) if isinstance(result, str) else result
            plans.append(
                {
                    "execution_ms": round(plan["Execution Time"], 1),
                    "indexes": sorted(_plan_indexes(plan["Plan"])),
                }
            )
    return plans


def run() -> dict[str, Any]:
    if connection.vendor != "postgresql":
        return {"database": connection.vendor, "skipped": "seeding needs PostgreSQL"}
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from integrations.models import Integration
    from integrations.selectors_console import dashboard
    from integrations.selectors_console_charts import console_charts
    from integrations.selectors_flow_view import flow_pictures

    _use_own_database()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    figures: dict[str, Any] = {"database": connection.vendor, "broker": "none", **_seed()}

    User = get_user_model()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.com", "bench-pass-1"
    )
    client = Client()
    client.force_login(user)
    records = reverse("admin:integrations_syncrecord_changelist")
    some = "PS" + str(N // 2).rjust(8, "0")
    today = timezone.now().date()
    tomorrow = today + timedelta(days=1)

    started = time.perf_counter()
    dashboard()
    figures["dashboard_selectors_ms"] = round((time.perf_counter() - started) * 1000, 1)
    pages = {
        "dashboard": (reverse("console_dashboard"), None),
        "records_list": (records, None),
        "records_needs_attention": (records, {"status__exact": "needs_attention"}),
        "records_top_error": (
            records,
            {
                "error_class": "UnknownItem",
                "error_field": "lines.1.sku",
                "status__in": "needs_attention,dead",
            },
        ),
        "records_search_reference": (records, {"q": some}),
        # A whole address (exact, indexed: migration 0008), and part of one (reads payloads).
        "records_search_email": (records, {"q": "C4242@example.com"}),
        "records_search_email_part": (records, {"q": "c4242@example"}),
        "records_created_today": (  # the created_at filter's "Today" link
            records,
            {
                "created_at__gte": f"{today} 00:00:00+00:00",
                "created_at__lt": f"{tomorrow} 00:00:00+00:00",
            },
        ),
    }
    figures["render_ms_median"] = {
        name: _time(client, url, params) for name, (url, params) in pages.items()
    }
    # The flow view and the charts: their selectors alone, then the pages and JSON, then the
    # record lists two of the flow view's counts link to (a step's failures; what passed it).
    integration = Integration.objects.filter(slug="bench-console-0").only("slug").get()
    figures["flow_view_selectors_ms"] = _time_call(flow_pictures)
    figures["chart_selectors_ms"] = _time_call(console_charts)
    figures["chart_selectors_one_integration_ms"] = _time_call(
        lambda: console_charts(integration=integration)
    )
    [flow] = [
        p for p in flow_pictures(integration=integration)["flows"] if p.flow == "order_to_cash"
    ]
    load, extract = flow.steps[3], flow.steps[0]
    flow_pages = {
        "flow_view": (reverse("console_flows"), None),
        "flow_view_one_integration": (
            reverse("console_flows_integration", args=[integration.slug]),
            None,
        ),
        "flow_view_json": (reverse("console_flows_data"), None),
        "charts_json": (reverse("console_charts_data"), None),
        "charts_json_one_integration": (
            reverse("console_charts_data"),
            {"integration": integration.slug},
        ),
        "records_flow_failed_at_load": (records, load.failed.filters),
        "records_flow_waiting_at_extract": (records, extract.waiting.filters),
        "records_flow_passed_extract": (records, extract.passed.filters),
    }
    figures["render_ms_median"].update(
        {name: _time(client, url, params) for name, (url, params) in flow_pages.items()}
    )
    figures["sql_explained"] = {
        "flow_view_counts": _explain(flow_pictures),
        "charts_throughput_then_latency": _explain(console_charts),
    }
    figures["flow_view_counts_order_to_cash"] = {
        box.step: {kind: count.n for kind, count in box.counts().items()} for box in flow.steps
    }
    record_id = figures["records"] // 2
    figures["render_ms_median"]["record_detail"] = _time(
        client, reverse("admin:integrations_syncrecord_change", args=[record_id])
    )
    return figures
