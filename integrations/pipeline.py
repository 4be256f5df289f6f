"""The pipeline engine: claim due records, run each through its flow's steps, record the outcome.

    claim -> extract -> transform -> validate -> load -> reconcile -> finish

Claims: a batch of due records is claimed in one statement. On PostgreSQL the candidates are
locked with SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint batches
without waiting; elsewhere (SQLite) the UPDATE repeats the "still claimable" condition and
is itself the compare-and-set. Every later write is fenced by the claim token: a worker whose
claim expired (and was reclaimed by the sweep) can no longer write the record.

Failures are classified once, by type (connectors.errors): transient -> retrying with
exponential backoff and full jitter (never sooner than Retry-After) until the integration's
limit, then dead; permanent -> needs_attention with field and value; SkipRecord -> skipped.
"""

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.errors import PermanentError, SkipRecord, TransientError
from connectors.http import backoff_delay
from connectors.redaction import redact, redact_text, truncate
from integrations.flows.base import Flow, FlowContext
from integrations.flows.registry import get_flow
from integrations.models import CLAIMABLE_STATUSES, Status, Step, SyncAttempt, SyncRecord
from integrations.overrides import overrides_settle

logger = logging.getLogger(__name__)

# Errors of the servers under the app, raised wherever a flow touches them (a token in the
# cache, a link in the database): an outage, retried like an ERP's 503.
OUTAGES = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)

# How long a claim holds before the sweep may hand the record to another worker. It must
# outlast the slowest honest run; runs extend it between steps (see _Run.heartbeat).
CLAIM_LEASE = timedelta(seconds=getattr(settings, "SYNC_CLAIM_LEASE_SECONDS", 600))
# Records claimed by one task, and how many of them run at once (threads doing remote I/O).
BATCH_SIZE = getattr(settings, "SYNC_BATCH_SIZE", 50)
IO_CONCURRENCY = getattr(settings, "SYNC_IO_CONCURRENCY", 8)
# Stored tracebacks and messages are capped.
TEXT_LIMIT = 8_000

STEPS = (Step.EXTRACT, Step.TRANSFORM, Step.VALIDATE, Step.LOAD, Step.RECONCILE)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ClaimLost(Exception):
    """Our claim expired and the record was reclaimed: stop without writing."""


def due_filter(now: datetime) -> Q:
    return Q(status__in=CLAIMABLE_STATUSES, integration__is_active=True) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def claim_records(
    *,
    ids: Iterable[int] | None = None,
    limit: int = BATCH_SIZE,
    worker: str | None = None,
    now: datetime | None = None,
) -> list[SyncRecord]:
    """Claim up to `limit` due records (only those in `ids`, if given). Each is claimed once."""
    now = now or timezone.now()
    worker = worker or worker_name()
    token = uuid.uuid4().hex
    candidates = SyncRecord.objects.filter(due_filter(now))
    if ids is not None:
        candidates = candidates.filter(id__in=list(ids))
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            picked = list(
                candidates.select_for_update(skip_locked=True, of=("self",))
                .order_by("id")
                .values_list("id", flat=True)[:limit]
            )
        else:
            picked = list(candidates.order_by("id").values_list("id", flat=True)[:limit])
        if not picked:
            return []
        # The due condition is repeated: on databases without row locks this UPDATE is the
        # compare-and-set that lets only one worker win a record.
        SyncRecord.objects.filter(due_filter(now), id__in=picked).update(
            status=Status.RUNNING,
            claim_token=token,
            claimed_by=worker[:100],
            claim_expires_at=now + CLAIM_LEASE,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    return list(
        SyncRecord.objects.filter(claim_token=token, status=Status.RUNNING).select_related(
            "integration", "integration__shop_connection", "integration__erp_connection"
        )
    )


@dataclass
class Outcome:
    record_id: int
    status: str
    error: str = ""


@dataclass
class BatchResult:
    claimed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return {"claimed": self.claimed, **counts}


def process_records(
    *,
    ids: Iterable[int] | None = None,
    limit: int = BATCH_SIZE,
    concurrency: int = IO_CONCURRENCY,
    worker: str | None = None,
) -> BatchResult:
    """Claim due records and run them, `concurrency` at a time. Idempotent: a record that is
    not due (already done, running elsewhere, waiting for its retry time) is left alone."""
    worker = worker or worker_name()
    records = claim_records(ids=ids, limit=limit, worker=worker)
    result = BatchResult(claimed=len(records))
    if not records:
        return result
    if concurrency <= 1 or len(records) == 1:
        result.outcomes = [run_record(record, worker=worker) for record in records]
        return result
    pool = _io_pool(concurrency)
    result.outcomes = list(pool.map(lambda r: _in_thread(run_record, r, worker=worker), records))
    return result


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _io_pool(size: int) -> ThreadPoolExecutor:
    """One long-lived pool per process (and size): its threads keep their database
    connections between batches instead of connecting anew for every batch. Keyed by pid
    because q2 forks its workers and a pool must not cross a fork."""
    key = (os.getpid(), size)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sync-io")
        return pool


def _in_thread(fn: Callable[..., Outcome], *args: Any, **kwargs: Any) -> Outcome:
    # Pool threads keep their connection; it is dropped only if broken or past CONN_MAX_AGE.
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


def run_record(
    record: SyncRecord,
    *,
    worker: str | None = None,
    clock: Callable[[], datetime] = timezone.now,
) -> Outcome:
    """Run one claimed record through its flow and write the outcome (fenced by the claim)."""
    run = _Run(record=record, worker=worker or worker_name(), clock=clock)
    try:
        return run.execute()
    except ClaimLost:
        logger.warning(
            "record %s: claim lost to another worker; this run's result is dropped", record.pk
        )
        return Outcome(record.pk, "claim_lost")


class _Run:
    def __init__(self, *, record: SyncRecord, worker: str, clock: Callable[[], datetime]):
        self.record = record
        self.worker = worker
        self.clock = clock
        self.token = record.claim_token
        self.started_at = clock()
        self.step = ""
        self.timings: dict[str, int] = {}

    # -- the happy path ---------------------------------------------------------------

    def execute(self) -> Outcome:
        record = self.record
        ctx = FlowContext(
            record=record,
            integration=record.integration,
            state=dict(record.context or {}),
            _checkpoint=self.checkpoint,
        )
        try:
            flow = get_flow(record.integration, record.flow)
            # Once load's result is committed (an earlier attempt), never repeat the remote
            # write: only finish reconciling.
            target_id = record.target_id or self.load_path(flow, ctx)
            self.run_step(Step.RECONCILE, flow.reconcile, ctx, target_id)
        except ClaimLost:
            raise
        except SkipRecord as skip:
            overrides_settle(ctx.state, attempt=record.attempts, outcome="skipped")
            return self.finish(Status.SKIPPED, ctx, message=skip.reason)
        except TransientError as error:
            return self.fail_transient(ctx, error)
        except PermanentError as error:
            return self.finish(Status.NEEDS_ATTENTION, ctx, error=error)
        except OUTAGES as error:
            # PostgreSQL or Redis (cache, broker) unreachable for a moment: not a bug of this
            # record. Retried; if the database is still down, this write fails too and the
            # claim's lease brings the record back.
            outage = TransientError(f"{type(error).__name__}: {error}")
            return self.fail_transient(ctx, outage)
        except Exception as error:  # noqa: BLE001  (a bug must stop the record, visibly)
            return self.finish(Status.NEEDS_ATTENTION, ctx, error=error, tb=traceback.format_exc())
        # An override lasts until the record finishes (integrations.overrides).
        overrides_settle(ctx.state, attempt=record.attempts, outcome="succeeded")
        return self.finish(Status.SUCCEEDED, ctx)

    def load_path(self, flow: Flow, ctx: FlowContext) -> str:
        data = self.run_step(Step.EXTRACT, flow.extract, ctx)
        self.record.payload_in = to_storable(data)
        payload = self.run_step(Step.TRANSFORM, flow.transform, ctx, data)
        # An operator's override replaces one value here, so validate still checks it.
        payload = flow.apply_overrides(ctx, payload)
        self.record.payload_out = to_storable(payload)
        self.run_step(Step.VALIDATE, flow.validate, ctx, payload)
        target_id = self.run_step(Step.LOAD, flow.load, ctx, payload)
        target_id = "" if target_id is None else str(target_id)
        self.record.target_id = target_id
        if type(flow).reconcile is not Flow.reconcile:
            # The remote write happened: commit its result before reconcile can fail, so a
            # retry goes straight to reconcile instead of writing twice. (Without a reconcile
            # step, finish() commits it next and this extra commit would buy nothing.)
            self.fenced_update(
                target_id=target_id,
                step=Step.LOAD,
                payload_in=self.record.payload_in,
                payload_out=self.record.payload_out,
                context=to_storable(ctx.state),
            )
        return target_id

    def run_step(self, step: str, fn: Callable[..., Any], *args: Any) -> Any:
        self.heartbeat()
        self.step = step
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.timings[step] = round((time.perf_counter() - started) * 1000)

    # -- claim fencing ----------------------------------------------------------------

    def fenced_update(self, **values: Any) -> None:
        updated = SyncRecord.objects.filter(pk=self.record.pk, claim_token=self.token).update(
            updated_at=self.clock(), **values
        )
        if not updated:
            raise ClaimLost(self.record.pk)

    def heartbeat(self) -> None:
        """Extend the claim once half the lease is used, so long runs keep their record."""
        now = self.clock()
        expires = self.record.claim_expires_at
        if expires is None or expires - now < CLAIM_LEASE / 2:
            self.record.claim_expires_at = now + CLAIM_LEASE
            self.fenced_update(claim_expires_at=self.record.claim_expires_at)

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.fenced_update(context=to_storable(state))

    # -- outcomes ---------------------------------------------------------------------

    def fail_transient(self, ctx: FlowContext, error: TransientError) -> Outcome:
        record = self.record
        integration = record.integration
        failures = record.failures + 1
        if failures >= integration.retry_limit:
            return self.finish(Status.DEAD, ctx, error=error, failures=failures)
        delay = backoff_delay(
            failures,
            base=float(integration.backoff_base_seconds),
            cap=float(integration.backoff_cap_seconds),
            retry_after=error.retry_after,
        )
        return self.finish(
            Status.RETRYING,
            ctx,
            error=error,
            failures=failures,
            retry_at=self.clock() + timedelta(seconds=delay),
        )

    def finish(
        self,
        status: str,
        ctx: FlowContext,
        *,
        error: BaseException | None = None,
        message: str = "",
        tb: str = "",
        failures: int | None = None,
        retry_at: datetime | None = None,
    ) -> Outcome:
        record = self.record
        now = self.clock()
        error_fields = (
            describe_error(error)
            if error is not None
            else {
                "error_class": "",
                "error_message": message,
                "error_field": "",
                "error_value": "",
            }
        )
        final = status in (Status.SUCCEEDED, Status.SKIPPED)
        values: dict[str, Any] = {
            "status": status,
            "step": self.step,
            "failures": 0 if final else (record.failures if failures is None else failures),
            "next_attempt_at": retry_at,
            "enqueued_at": None,
            "claim_token": "",
            "claimed_by": "",
            "claim_expires_at": None,
            "target_id": record.target_id,
            "payload_in": record.payload_in,
            "payload_out": record.payload_out,
            "context": to_storable(ctx.state),
            "timings": self.timings,
            "finished_at": now if status != Status.RETRYING else None,
            **error_fields,
        }
        attempt = SyncAttempt(
            record_id=record.pk,
            number=record.attempts,
            worker=self.worker[:100],
            started_at=self.started_at,
            finished_at=now,
            duration_ms=max(0, round((now - self.started_at).total_seconds() * 1000)),
            outcome=status,
            step=self.step,
            retry_at=retry_at,
            timings=self.timings,
            traceback=truncate(redact_text(tb), TEXT_LIMIT),
            **error_fields,
        )
        with transaction.atomic():
            self.fenced_update(**values)
            attempt.save(force_insert=True)
        for key, value in values.items():
            setattr(record, key, value)
        if status == Status.NEEDS_ATTENTION and tb:
            logger.error(
                "record %s: unexpected %s at %s", record.pk, error_fields["error_class"], self.step
            )
        return Outcome(record.pk, status, error_fields["error_message"])


def describe_error(error: BaseException) -> dict[str, str]:
    """The stored, redacted description of an error: class, message, field and value."""
    field_name = getattr(error, "field", "") or ""
    value = getattr(error, "value", None)
    message = str(error) or type(error).__name__
    if not isinstance(error, TransientError | PermanentError):
        message = f"unexpected error ({type(error).__name__}): {message}"
    return {
        "error_class": type(error).__name__,
        "error_message": truncate(redact_text(message), TEXT_LIMIT),
        "error_field": redact_text(str(field_name))[:200],
        "error_value": "" if value is None else truncate(redact_text(str(value)), 1000),
    }


def to_storable(value: Any) -> Any:
    """JSON-ready and redacted: what may be written to the database and shown in the admin."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    else:
        import json

        value = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return redact(value)


def reclaim_stale_claims(*, now: datetime | None = None) -> int:
    """Hand back records whose worker died mid-run. Counts as a transient failure (a record
    that kills its worker every time must end dead, not loop); returns how many."""
    now = now or timezone.now()
    reclaimed = 0
    stale = SyncRecord.objects.filter(
        status=Status.RUNNING, claim_expires_at__lt=now
    ).select_related("integration")
    for record in stale[:1000]:
        failures = record.failures + 1
        dead = failures >= record.integration.retry_limit
        status = Status.DEAD if dead else Status.RETRYING
        message = (
            f"worker {record.claimed_by or '?'} stopped during {record.step or 'the run'} "
            "without finishing (crash, kill or timeout); "
            + ("retry limit reached" if dead else "will run again")
        )
        with transaction.atomic():
            updated = SyncRecord.objects.filter(
                pk=record.pk, status=Status.RUNNING, claim_token=record.claim_token
            ).update(
                status=status,
                failures=failures,
                claim_token="",
                claimed_by="",
                claim_expires_at=None,
                next_attempt_at=now,
                enqueued_at=None,
                error_class="WorkerLost",
                error_message=message,
                error_field="",
                error_value="",
                finished_at=now if dead else None,
                updated_at=now,
            )
            if updated:
                SyncAttempt.objects.create(
                    record_id=record.pk,
                    number=record.attempts,
                    worker=record.claimed_by,
                    started_at=record.claim_expires_at - CLAIM_LEASE,
                    finished_at=now,
                    outcome=status,
                    step=record.step,
                    error_class="WorkerLost",
                    error_message=message,
                )
        reclaimed += updated
    return reclaimed
