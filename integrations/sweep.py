"""The sweep: the database is the queue of record, and this is how lost work is found again.

A task can vanish (the Redis broker keeps no delivery receipt; a worker can be killed). The
sweep hands back expired claims and re-queues every due record that has no recent task.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integrations.models import SyncRecord
from integrations.pipeline import due_filter, reclaim_stale_claims
from integrations.queue import enqueue_records

# A queued task that has not claimed its record after this long is presumed lost.
ENQUEUE_STALE_AFTER = timedelta(seconds=getattr(settings, "SYNC_ENQUEUE_STALE_SECONDS", 300))
# Records queued by one sweep; the rest wait for the next (a minute later).
SWEEP_LIMIT = getattr(settings, "SYNC_SWEEP_LIMIT", 5000)


@dataclass
class SweepResult:
    reclaimed: int
    enqueued_records: int
    tasks: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    reclaimed = reclaim_stale_claims(now=now)
    not_queued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - ENQUEUE_STALE_AFTER)
    ids = list(
        SyncRecord.objects.filter(due_filter(now) & not_queued)
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    tasks = enqueue_records(ids) if ids else 0
    return SweepResult(reclaimed=reclaimed, enqueued_records=len(ids), tasks=tasks)
