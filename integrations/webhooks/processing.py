"""Store a verified webhook, then turn stored events into sync records (a q2 task, in batches).

The raw event is committed before the sender gets its 2xx; a task is queued after commit, and
if the queue is down the sweep finds the event still `received` a minute later. Processing is
idempotent (records are get-or-create by key), so an event handled twice yields one record.
"""

import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from connectors.errors import PermanentError
from connectors.redaction import redact_text, truncate
from integrations.models import WebhookEvent
from integrations.queue import broker, chunked, enqueue_on_commit
from integrations.services.records import sync_record_enqueue
from integrations.webhooks.parsing import parse_event
from integrations.webhooks.routing import Ignored, overrides_for, route_event
from integrations.webhooks.verify import Rejection

logger = logging.getLogger(__name__)

# Events claimed and processed by one task.
BATCH_SIZE = getattr(settings, "WEBHOOK_BATCH_SIZE", 100)
# Seconds between two processing tasks queued by one process; webhooks in between coalesce.
ENQUEUE_INTERVAL = getattr(settings, "WEBHOOK_ENQUEUE_INTERVAL_SECONDS", 0.2)
# Batches one task processes before it hands the rest of a backlog to a new task.
DRAIN_BATCHES = 20
# The sweep leaves younger `received` events to the task queued for them.
SWEEP_GRACE = timedelta(seconds=getattr(settings, "WEBHOOK_SWEEP_GRACE_SECONDS", 30))
# Events processed by one sweep run; the rest wait for the next.
SWEEP_LIMIT = getattr(settings, "WEBHOOK_SWEEP_LIMIT", 5000)
ERROR_LIMIT = 4000


@dataclass
class ProcessResult:
    claimed: int = 0
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    records_created: int = 0

    def add(self, other: "ProcessResult") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def webhook_event_receive(
    *,
    integration_id: int,
    source: str,
    event_id: str,
    event_type: str,
    headers: dict[str, str],
    body: str,
) -> WebhookEvent | None:
    """Store the event (once per webhook-id) and see that a task will process it; None if a
    duplicate."""
    # A savepoint only inside an outer transaction (a duplicate must not break it); in
    # autocommit the INSERT is its own transaction, and one BEGIN/COMMIT fewer per webhook.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with guard:
            event = WebhookEvent.objects.create(
                integration_id=integration_id,
                source=source,
                event_id=event_id,
                event_type=event_type[:100],
                headers=headers,
                body=body,
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _coalescer.request(event.pk))
    return event


class _Coalescer:
    """At most one processing task per ENQUEUE_INTERVAL from one process.

    Queueing a task costs more than storing the event (a second write with the ORM broker),
    and one task drains every received event in batches anyway. A webhook arriving within
    the interval after a task was queued schedules one trailing task for the interval's end,
    so the last events of a burst never wait for the sweep; if this process dies first, the
    sweep still finds them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -ENQUEUE_INTERVAL
        self._timer: threading.Timer | None = None

    def request(self, event_id: int) -> None:
        with self._lock:
            if self._timer is not None:
                return  # a trailing task is already on its way
            wait = self._last + ENQUEUE_INTERVAL - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._trailing, args=(event_id,))
                self._timer.daemon = True
                self._timer.start()
                return
            self._last = time.monotonic()
        _enqueue_quietly([event_id])

    def _trailing(self, event_id: int) -> None:
        with self._lock:
            self._timer = None
            self._last = time.monotonic()
        try:
            _enqueue_quietly([event_id])
        finally:
            connection.close()  # this thread's own connection (ORM broker)


_coalescer = _Coalescer()


def _enqueue_quietly(ids: list[int]) -> None:
    """Queue processing; a broker outage must not fail the webhook (the sweep recovers)."""
    try:
        enqueue_events(ids)
    except Exception:  # the broker is down: the sweep processes the events instead
        logger.exception("webhook events %s: could not queue processing; the sweep will", ids)


def enqueue_events(ids: list[int]) -> int:
    tasks = 0
    for chunk in chunked(ids, BATCH_SIZE):
        async_task(
            "integrations.tasks.webhook_events_process_task",
            chunk,
            broker=broker(),
            task_name=f"webhooks from {chunk[0]} ({len(chunk)})",
        )
        tasks += 1
    return tasks


def webhook_events_process(
    *, ids: list[int] | None = None, limit: int = BATCH_SIZE
) -> ProcessResult:
    """Claim up to `limit` received events (only `ids`, if given) and turn each into records.

    One transaction per batch: the events' new states and their records commit together. On
    PostgreSQL the events are locked with SKIP LOCKED so concurrent tasks take disjoint
    batches; on SQLite the write lock is taken up front (IMMEDIATE) and serialises batches.
    """
    result = ProcessResult()
    created_ids: list[int] = []
    with transaction.atomic():
        candidates = WebhookEvent.objects.filter(state=WebhookEvent.State.RECEIVED)
        if ids is not None:
            candidates = candidates.filter(id__in=list(ids))
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        events = list(candidates.select_related("integration").order_by("id")[:limit])
        result.claimed = len(events)
        if not events:
            return result
        overrides = overrides_for(e.integration_id for e in events)
        now = timezone.now()
        processed: list[int] = []
        for event in events:
            state, error, record_id = _process_one(event, overrides)
            if record_id is not None:
                created_ids.append(record_id)
            setattr(result, state, getattr(result, state) + 1)
            if state == WebhookEvent.State.PROCESSED:
                processed.append(event.pk)
                continue
            # Compare-and-set: a concurrent run that got here first keeps its outcome.
            WebhookEvent.objects.filter(pk=event.pk, state=WebhookEvent.State.RECEIVED).update(
                state=state, error=error, processed_at=now
            )
        WebhookEvent.objects.filter(pk__in=processed, state=WebhookEvent.State.RECEIVED).update(
            state=WebhookEvent.State.PROCESSED, error="", processed_at=now
        )
        result.records_created = len(created_ids)
        enqueue_on_commit(created_ids)
    return result


def _process_one(event: WebhookEvent, overrides: dict) -> tuple[str, str, int | None]:
    content_type = (event.headers or {}).get("Content-Type", "application/json")
    try:
        parsed = parse_event(body=event.body, content_type=content_type)
        spec = route_event(
            integration=event.integration,
            source=event.source,
            event_type=parsed.event_type,
            data=parsed.data,
            overrides=overrides,
        )
        if isinstance(spec, Ignored):
            return WebhookEvent.State.IGNORED, spec.reason, None
        # Its own savepoint: a database error here rolls back this record only.
        outcome = sync_record_enqueue(
            integration=event.integration,
            flow=spec.flow,
            source_id=spec.source_id,
            source_system=spec.source_system,
            direction=spec.direction,
            reference=spec.reference,
            payload={"event": parsed.event_type, "event_id": event.event_id, **parsed.data},
            idempotency_key=spec.idempotency_key,
            enqueue=False,
            reopen=spec.reopen,
        )
    except Rejection as error:
        return WebhookEvent.State.FAILED, error.reason, None
    except PermanentError as error:
        return WebhookEvent.State.FAILED, truncate(redact_text(str(error)), ERROR_LIMIT), None
    except Exception as error:  # one bad event must not stop its batch
        logger.exception("webhook event %s: unexpected error", event.pk)
        message = f"unexpected error ({type(error).__name__}): {error}"
        return WebhookEvent.State.FAILED, truncate(redact_text(message), ERROR_LIMIT), None
    return WebhookEvent.State.PROCESSED, "", outcome.record.pk if outcome.queued else None


def webhook_events_drain(*, ids: list[int], batches: int = DRAIN_BATCHES) -> ProcessResult:
    """These events, then the oldest other received ones, a batch at a time, until none is
    left or `batches` ran (then another task is queued to go on)."""
    result = webhook_events_process(ids=ids, limit=max(len(ids), 1))
    for _ in range(batches):
        batch = webhook_events_process(limit=BATCH_SIZE)
        result.add(batch)
        if batch.claimed < BATCH_SIZE:
            return result
    _enqueue_quietly(ids)
    return result


def webhook_events_sweep(*, limit: int = SWEEP_LIMIT) -> ProcessResult:
    """Process events left in `received` (their task was lost, or the queue was down)."""
    total = ProcessResult()
    cutoff = timezone.now() - SWEEP_GRACE
    while total.claimed < limit:
        ids = list(
            WebhookEvent.objects.filter(state=WebhookEvent.State.RECEIVED, received_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[: min(BATCH_SIZE, limit - total.claimed)]
        )
        if not ids:
            break
        batch = webhook_events_process(ids=ids, limit=len(ids))
        total.add(batch)
        if not batch.claimed:
            break  # all locked by other workers
    return total
