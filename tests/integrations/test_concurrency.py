"""Real concurrency: several threads, each with its own database connection, race for work.

On PostgreSQL the claim uses SELECT … FOR UPDATE SKIP LOCKED; on SQLite the UPDATE is the
compare-and-set. Both must let exactly one worker run a record.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from integrations.models import Status, SyncAttempt, SyncRecord
from integrations.pipeline import claim_records, process_records
from integrations.services.records import sync_record_enqueue
from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.support.flows import LOADS

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_two_workers_claiming_one_record_run_it_once():
    record = SyncRecordFactory(flow="test_slow", payload_in={"sleep": 0.3})

    results = run_in_threads(
        2, lambda i: process_records(ids=[record.pk], worker=f"w{i}").as_dict()
    )

    record.refresh_from_db()
    assert LOADS[record.pk] == 1
    assert record.status == Status.SUCCEEDED
    assert record.attempts == 1
    assert SyncAttempt.objects.filter(record=record).count() == 1
    assert sorted(r["claimed"] for r in results) == [0, 1]


def test_concurrent_batches_take_disjoint_records():
    integration = IntegrationFactory()
    records = SyncRecordFactory.create_batch(60, integration=integration, flow="test_noop")

    claimed = run_in_threads(4, lambda i: [r.pk for r in claim_records(limit=25, worker=f"w{i}")])

    flat = [pk for batch in claimed for pk in batch]
    assert len(flat) == len(set(flat)), "a record was claimed twice"
    assert set(flat) <= {r.pk for r in records}
    assert len(flat) == 60


def test_many_workers_drain_a_backlog_exactly_once():
    integration = IntegrationFactory()
    records = SyncRecordFactory.create_batch(80, integration=integration, flow="test_noop")

    def drain(i):
        done = 0
        while True:
            result = process_records(limit=10, concurrency=2, worker=f"w{i}")
            if not result.claimed:
                return done
            done += result.claimed

    totals = run_in_threads(4, drain)

    assert sum(totals) == 80
    assert Counter(LOADS[r.pk] for r in records) == {1: 80}
    assert SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == 80


def test_racing_triggers_collapse_into_one_record():
    """A webhook and a poll (or a duplicated webhook) enqueue the same order at once."""
    integration = IntegrationFactory()

    results = run_in_threads(
        6,
        lambda i: (
            sync_record_enqueue(
                integration=integration,
                flow="test_noop",
                source_system="prestashop",
                source_id="77",
                reference="ABC",
            ).created
        ),
    )

    assert SyncRecord.objects.filter(integration=integration, source_id="77").count() == 1
    assert results.count(True) == 1


@pytest.mark.usefixtures("on_postgres")
def test_postgres_claim_skips_locked_rows_instead_of_waiting():
    from django.db import connections, transaction

    record = SyncRecordFactory(flow="test_noop")
    other = SyncRecordFactory(flow="test_noop", integration=record.integration)
    holder = threading.Event()
    release = threading.Event()

    def lock_first():
        with transaction.atomic():
            list(SyncRecord.objects.select_for_update().filter(pk=record.pk))
            holder.set()
            release.wait(timeout=10)
        connections.close_all()

    t = threading.Thread(target=lock_first)
    t.start()
    holder.wait(timeout=10)
    try:
        claimed = claim_records(limit=10, worker="w")
    finally:
        release.set()
        t.join()
    assert [r.pk for r in claimed] == [other.pk]
