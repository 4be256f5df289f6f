"""Records per second through the pipeline engine, beside q2's own empty-task rate.

1. In-process: batches claimed and run by one process (no q2), no-op flow and a flow that
   waits 20 ms per record (a remote call), the latter with I/O threads per batch.
2. Through a real q2 cluster (2 workers, this deployment's q2 settings): the same two flows,
   and q2's empty-task rate with the same settings, so the engine's cost shows beside q2's.

The floor for the 20 ms flow is workers x threads / 0.02 s.
"""

import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_q.models import Success
from django_q.tasks import async_task

from integrations.models import Status, SyncAttempt, SyncRecord
from integrations.pipeline import BATCH_SIZE, IO_CONCURRENCY, process_records
from integrations.queue import broker, enqueue_records
from tests.factories import IntegrationFactory
from tests.support.cluster import running_cluster, wait_for

# Results are written per database/broker pair (bench/__main__.py).
PER_BACKEND = True
WORKERS = 2
N_INLINE_NOOP = 3000
N_INLINE_WAIT = 800
N_CLUSTER_NOOP = 4000
N_CLUSTER_WAIT = 1600
N_EMPTY_TASKS = 2000


def run() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    figures: dict[str, Any] = {
        "database": connection.vendor,
        "broker": "redis" if settings.REDIS_URL else "orm",
        "batch_size": BATCH_SIZE,
        "io_threads_per_batch": IO_CONCURRENCY,
        "q2_workers": WORKERS,
        "q2_recycle": settings.Q_CLUSTER["recycle"],
    }
    _reset()
    integration = IntegrationFactory()
    figures["inline_noop_records_per_s"] = _inline(
        integration, "test_noop", N_INLINE_NOOP, concurrency=1
    )
    figures["inline_wait20ms_records_per_s"] = _inline(
        integration, "test_wait_20ms", N_INLINE_WAIT, concurrency=IO_CONCURRENCY
    )
    figures["inline_wait20ms_floor_per_s"] = IO_CONCURRENCY / 0.02

    figures["q2_empty_tasks_per_s"] = _q2_empty_rate()
    figures["cluster_noop_records_per_s"] = _through_cluster(
        integration, "test_noop", N_CLUSTER_NOOP
    )
    figures["cluster_wait20ms_records_per_s"] = _through_cluster(
        integration, "test_wait_20ms", N_CLUSTER_WAIT
    )
    figures["cluster_wait20ms_floor_per_s"] = WORKERS * IO_CONCURRENCY / 0.02
    figures["cluster_noop_records_per_task_overhead"] = round(
        figures["cluster_noop_records_per_s"] / max(figures["q2_empty_tasks_per_s"], 1), 2
    )
    _clean()
    return figures


def _reset() -> None:
    """The bench database is reused between runs (with other throwaway keys): empty it."""
    call_command("flush", interactive=False, verbosity=0)


def _clean() -> None:
    SyncAttempt.objects.all().delete()
    SyncRecord.objects.all().delete()


def _make(integration, flow: str, n: int) -> list[int]:
    _clean()
    SyncRecord.objects.bulk_create(
        SyncRecord(
            integration=integration,
            flow=flow,
            direction="shop_to_erp",
            source_system="bench",
            source_id=str(i),
            idempotency_key=f"bench:{flow}:{i}",
        )
        for i in range(n)
    )
    return list(SyncRecord.objects.order_by("id").values_list("id", flat=True))


def _inline(integration, flow: str, n: int, *, concurrency: int) -> float:
    _make(integration, flow, n)
    started = time.perf_counter()
    done = 0
    while True:
        result = process_records(limit=BATCH_SIZE, concurrency=concurrency)
        if not result.claimed:
            break
        done += result.claimed
    elapsed = time.perf_counter() - started
    assert SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == n
    return round(done / elapsed, 1)


def _through_cluster(integration, flow: str, n: int) -> float:
    ids = _make(integration, flow, n)
    with running_cluster(workers=WORKERS) as cluster:
        time.sleep(2)  # let the cluster's workers start before the clock does
        started = time.perf_counter()
        enqueue_records(ids)
        wait_for(
            lambda: SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == n,
            timeout=600,
            process=cluster,
        )
        elapsed = time.perf_counter() - started
    return round(n / elapsed, 1)


def _q2_empty_rate() -> float:
    """q2's own rate with these settings; successes are saved (save_limit 0) only to count."""
    Success.objects.all().delete()
    with running_cluster(workers=WORKERS, extra_env={"Q_SAVE_LIMIT": "0"}) as cluster:
        time.sleep(2)
        started = time.perf_counter()
        b = broker()
        for _ in range(N_EMPTY_TASKS):
            async_task("bench.tasks.empty_task", broker=b, save=True)
        wait_for(lambda: Success.objects.count() >= N_EMPTY_TASKS, timeout=600, process=cluster)
        elapsed = time.perf_counter() - started
    Success.objects.all().delete()
    return round(N_EMPTY_TASKS / elapsed, 1)
