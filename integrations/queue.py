"""The only place that talks to django-q2: turning record ids into queued tasks.

One broker is reused per process: async_task would otherwise open a new Redis connection per
call (about 700 enqueues/s instead of 5,500 measured on this machine).
"""

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from integrations.models import SyncRecord
from integrations.pipeline import BATCH_SIZE

_broker: Broker | None = None
_broker_lock = threading.Lock()


def broker() -> Broker:
    global _broker
    with _broker_lock:
        if _broker is None:
            _broker = get_broker()
        return _broker


def chunked(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for item in ids:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def enqueue_records(ids: Iterable[int], *, batch_size: int = BATCH_SIZE) -> int:
    """Queue tasks for these records (a batch per task); returns the number of tasks queued."""
    tasks = 0
    for chunk in chunked(ids, batch_size):
        async_task(
            "integrations.tasks.process_records_task",
            chunk,
            broker=broker(),
            task_name=f"records {chunk[0]}…{chunk[-1]} ({len(chunk)})",
        )
        SyncRecord.objects.filter(id__in=chunk).update(enqueued_at=timezone.now())
        tasks += 1
    return tasks


def enqueue_on_commit(ids: list[int], **kwargs: Any) -> None:
    """Queue after the surrounding transaction commits: a worker must find the rows."""
    if ids:
        transaction.on_commit(lambda: enqueue_records(ids, **kwargs))
