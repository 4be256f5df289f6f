"""Services over sync records: create (idempotently), retry, resolve, skip."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from integrations.models import Direction, Integration, Status, SyncRecord
from integrations.pipeline import to_storable
from integrations.queue import enqueue_on_commit

# What a new trigger may re-open (sync_record_enqueue's `reopen`): an order skipped for its
# state, or any finished per-item record. Never anything waiting for a person.
REOPEN_SKIPPED = (Status.SKIPPED,)
REOPEN_FINISHED = (Status.SUCCEEDED, Status.SKIPPED)
# Items whose records one statement creates or re-opens (sync_records_open_per_item).
OPEN_BATCH = 500
# Records in these statuses may be retried or resolved by a person.
ACTIONABLE_STATUSES = (Status.NEEDS_ATTENTION, Status.DEAD, Status.RETRYING, Status.SKIPPED)


class RecordActionError(Exception):
    """A person asked for something the record's state does not allow; the message says why."""


@dataclass(frozen=True)
class EnqueueResult:
    record: SyncRecord
    created: bool
    reopened: bool = False

    @property
    def queued(self) -> bool:
        """Whether this call made new work (a new record, or a finished one re-opened)."""
        return self.created or self.reopened


def sync_record_enqueue(
    *,
    integration: Integration,
    flow: str,
    source_id: str,
    source_system: str,
    direction: str = Direction.SHOP_TO_ERP,
    reference: str = "",
    payload: Any = None,
    idempotency_key: str | None = None,
    enqueue: bool = True,
    reopen: tuple[str, ...] = (),
) -> EnqueueResult:
    """Get or create the one record for (integration, flow, key) and queue it.

    Racing triggers (a webhook and a poll, a duplicate webhook) collapse into one record: the
    unique constraint decides, and the loser reads the winner's row. A record that is already
    done is not re-opened (one shop order is one ERP order, whatever arrives later), except
    from the statuses in `reopen`: an order skipped for its state runs again when a new event
    says its state changed (REOPEN_SKIPPED); a per-item record that computes from current
    state (customers) is re-opened by any change (REOPEN_FINISHED, as
    sync_records_open_per_item does in bulk).
    """
    key = idempotency_key or f"{source_system}:{source_id}"
    defaults = {
        "direction": direction,
        "source_system": source_system,
        "source_id": str(source_id),
        "reference": reference[:100],
        "payload_in": to_storable(payload),
    }
    try:
        with transaction.atomic():
            record, created = SyncRecord.objects.get_or_create(
                integration=integration, flow=flow, idempotency_key=key[:255], defaults=defaults
            )
    except IntegrityError:
        # Another transaction inserted the same key between our SELECT and INSERT.
        record, created = (
            SyncRecord.objects.get(integration=integration, flow=flow, idempotency_key=key[:255]),
            False,
        )
    reopened = False
    if not created and record.status in reopen:
        reopened = bool(
            _reopen(
                SyncRecord.objects.filter(pk=record.pk),
                statuses=reopen,
                payload_in=defaults["payload_in"],
            )
        )
        if reopened:
            record.refresh_from_db()
    if (created or reopened) and enqueue:
        enqueue_on_commit([record.pk])
    return EnqueueResult(record=record, created=created, reopened=reopened)


def _reopen(records: QuerySet[SyncRecord], *, statuses: tuple[str, ...] = (), **values: Any) -> int:
    """Back to pending, for a new run of load: only records in `statuses` (by default those
    that finished well); records waiting for a person are left to the person."""
    return records.filter(status__in=statuses or REOPEN_FINISHED).update(
        status=Status.PENDING,
        step="",
        failures=0,
        next_attempt_at=None,
        finished_at=None,
        target_id="",
        error_class="",
        error_message="",
        error_field="",
        error_value="",
        updated_at=timezone.now(),
        **values,
    )


def sync_record_retry(
    *, record: SyncRecord, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Run a record again now, with a fresh retry budget (after a fix, or to hurry a retry)."""
    return (
        sync_records_retry(records=SyncRecord.objects.filter(pk=record.pk), user=user)[0] or record
    )


def sync_records_retry(
    *, records: QuerySet[SyncRecord], user: AbstractBaseUser | AnonymousUser | None = None
) -> tuple[SyncRecord | None, int]:
    """Retry every actionable record in `records`; returns (first record, how many)."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(records.filter(status__in=ACTIONABLE_STATUSES).values_list("id", flat=True))
        count = SyncRecord.objects.filter(id__in=ids, status__in=ACTIONABLE_STATUSES).update(
            status=Status.PENDING,
            failures=0,
            next_attempt_at=None,
            finished_at=None,
            updated_at=now,
        )
        enqueue_on_commit(ids)
    first = SyncRecord.objects.filter(id__in=ids[:1]).first()
    return first, count


def sync_record_resolve(
    *, record: SyncRecord, note: str, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Close a record by hand (fixed outside the integration); a note saying how is required."""
    return _close(record=record, note=note, user=user, status=Status.SUCCEEDED, verb="resolved")


def sync_record_skip(
    *, record: SyncRecord, note: str, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Give a record up on purpose; the note says why (nothing is dropped silently)."""
    return _close(record=record, note=note, user=user, status=Status.SKIPPED, verb="skipped")


def _close(*, record: SyncRecord, note: str, user: Any, status: str, verb: str) -> SyncRecord:
    note = (note or "").strip()
    if not note:
        raise RecordActionError(f"record {record.pk}: a note is required to mark it {verb}")
    who = getattr(user, "get_username", lambda: "system")() if user else "system"
    now = timezone.now()
    updated = SyncRecord.objects.filter(pk=record.pk, status__in=ACTIONABLE_STATUSES).update(
        status=status,
        resolution_note=f"{verb} by {who} at {now:%Y-%m-%d %H:%M} UTC: {note}"[:4000],
        next_attempt_at=None,
        finished_at=now,
        updated_at=now,
    )
    if not updated:
        raise RecordActionError(
            f"record {record.pk} is {record.get_status_display().lower()}; only records that "
            "need attention, are dead, retrying or skipped can be "
            f"{verb}"
        )
    record.refresh_from_db()
    return record


def sync_records_open_per_item(
    *,
    integration: Integration,
    item_ids: Iterable[str],
    flow: str,
    key_prefix: str,
    direction: str = Direction.ERP_TO_SHOP,
) -> int:
    """One record per item (key "<key_prefix>:<item id>"), created or re-opened, and queued.

    For flows that compute from current state when they run (stock, customers, products):
    pending/retrying/running records are left alone, since they will read the newest state
    anyway, so any number of changes to one item collapse into one run; succeeded and skipped
    ones are re-opened with their target id cleared, so the engine runs load again. Records at
    needs_attention or dead wait for a person. Returns how many were created or re-opened.
    """
    total = 0
    batch: list[str] = []
    for item_id in item_ids:
        batch.append(item_id)
        if len(batch) == OPEN_BATCH:
            total += _open_batch(integration, batch, flow, key_prefix, direction)
            batch = []
    if batch:
        total += _open_batch(integration, batch, flow, key_prefix, direction)
    return total


def _open_batch(
    integration: Integration, skus: list[str], flow: str, prefix: str, direction: str
) -> int:
    source = (
        integration.erp_connection.system
        if direction == Direction.ERP_TO_SHOP
        else integration.shop_connection.system
    )
    keys = {f"{prefix}:{s}": s for s in skus}
    with transaction.atomic():
        existing = set(
            SyncRecord.objects.filter(
                integration=integration, flow=flow, idempotency_key__in=list(keys)
            ).values_list("idempotency_key", flat=True)
        )
        new = [
            SyncRecord(
                integration=integration,
                flow=flow,
                direction=direction,
                source_system=source,
                source_id=sku,
                reference=sku[:100],
                idempotency_key=key,
            )
            for key, sku in keys.items()
            if key not in existing
        ]
        SyncRecord.objects.bulk_create(new, ignore_conflicts=True)
        reopen = SyncRecord.objects.filter(
            integration=integration,
            flow=flow,
            idempotency_key__in=[k for k in keys if k in existing],
            status__in=(Status.SUCCEEDED, Status.SKIPPED),
        )
        reopen_ids = list(reopen.values_list("id", flat=True))
        _reopen(SyncRecord.objects.filter(id__in=reopen_ids))
        created_ids = list(
            SyncRecord.objects.filter(
                integration=integration,
                flow=flow,
                idempotency_key__in=[r.idempotency_key for r in new],
                status=Status.PENDING,
            ).values_list("id", flat=True)
        )
        ids = sorted(set(created_ids) | set(reopen_ids))
        enqueue_on_commit(ids)
    return len(ids)
