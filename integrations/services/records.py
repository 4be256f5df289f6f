"""Services over sync records: create (idempotently), retry, resolve, skip."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from integrations.models import Direction, Integration, Status, SyncRecord
from integrations.pipeline import to_storable
from integrations.queue import enqueue_on_commit

# Records in these statuses may be retried or resolved by a person.
ACTIONABLE_STATUSES = (Status.NEEDS_ATTENTION, Status.DEAD, Status.RETRYING, Status.SKIPPED)


class RecordActionError(Exception):
    """A person asked for something the record's state does not allow; the message says why."""


@dataclass(frozen=True)
class EnqueueResult:
    record: SyncRecord
    created: bool


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
) -> EnqueueResult:
    """Get or create the one record for (integration, flow, key) and queue it.

    Racing triggers (a webhook and a poll, a duplicate webhook) collapse into one record: the
    unique constraint decides, and the loser reads the winner's row. A record that is already
    done is not re-opened here (a changed source is a new key, or a person's retry).
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
    if created and enqueue:
        enqueue_on_commit([record.pk])
    return EnqueueResult(record=record, created=created)


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
