"""Services behind the ops console's actions that go beyond one record: retry every open record
one error caused, and resolve or skip many records with one note."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from integrations.models import Status, SyncRecord
from integrations.services.records import (
    RecordActionError,
    sync_record_resolve,
    sync_record_skip,
    sync_records_retry,
)

# Records "the same error" re-opens: those still waiting for a person or given up on.
SAME_ERROR_STATUSES = (Status.NEEDS_ATTENTION, Status.DEAD)

User = AbstractBaseUser | AnonymousUser | None


def sync_records_same_error(*, record: SyncRecord) -> QuerySet[SyncRecord]:
    """Open records of the same integration and flow that stopped on the same error
    (error class and field): what one mapping fix should release."""
    return SyncRecord.objects.filter(
        integration_id=record.integration_id,
        flow=record.flow,
        error_class=record.error_class,
        error_field=record.error_field,
        status__in=SAME_ERROR_STATUSES,
    )


def sync_records_retry_same_error(*, records: QuerySet[SyncRecord], user: User = None) -> int:
    """Retry, for each distinct error among `records`, every open record with that error."""
    total = 0
    errors = (
        records.exclude(error_class="")
        .values_list("integration_id", "flow", "error_class", "error_field")
        .distinct()
    )
    for integration_id, flow, error_class, error_field in list(errors):
        same = SyncRecord.objects.filter(
            integration_id=integration_id,
            flow=flow,
            error_class=error_class,
            error_field=error_field,
            status__in=SAME_ERROR_STATUSES,
        )
        total += sync_records_retry(records=same, user=user)[1]
    return total


def sync_records_close(
    *, records: QuerySet[SyncRecord], note: str, skip: bool, user: User = None
) -> tuple[int, list[str]]:
    """Resolve (or skip) each record with the same note; returns (how many, error messages)."""
    service = sync_record_skip if skip else sync_record_resolve
    done, errors = 0, []
    for record in records:
        try:
            service(record=record, note=note, user=user)
        except RecordActionError as error:
            errors.append(str(error))
        else:
            done += 1
    return done, errors
