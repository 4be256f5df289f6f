"""End to end through a real django-q2 cluster (ORM broker on SQLite, Redis with REDIS_URL)."""

import pytest
from django.utils import timezone

from integrations.models import Status, SyncRecord
from integrations.services.records import sync_record_enqueue
from integrations.sweep import sweep
from tests.factories import IntegrationFactory
from tests.support.cluster import running_cluster, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_real_cluster_runs_queued_records_and_the_sweep_finds_lost_ones():
    integration = IntegrationFactory()
    queued = [
        sync_record_enqueue(
            integration=integration, flow="test_noop", source_system="prestashop", source_id=str(i)
        )
        for i in range(30)
    ]
    # Ten records whose task was lost (never queued, as after a broker crash).
    lost = [
        sync_record_enqueue(
            integration=integration,
            flow="test_noop",
            source_system="prestashop",
            source_id=f"lost-{i}",
            enqueue=False,
        )
        for i in range(10)
    ]
    assert all(r.record.enqueued_at is None for r in lost)
    assert SyncRecord.objects.filter(enqueued_at__isnull=False).count() == len(queued)

    result = sweep()
    assert result.enqueued_records == 10  # only the lost ones: the others have a live task

    with running_cluster() as cluster:
        wait_for(
            lambda: SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == 40,
            timeout=90,
            process=cluster,
        )

    assert SyncRecord.objects.filter(attempts=1).count() == 40


def test_the_sweep_requeues_records_whose_task_went_stale():
    integration = IntegrationFactory()
    record = sync_record_enqueue(
        integration=integration, flow="test_noop", source_system="prestashop", source_id="1"
    ).record
    assert sweep().enqueued_records == 0
    SyncRecord.objects.filter(pk=record.pk).update(
        enqueued_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert sweep().enqueued_records == 1
