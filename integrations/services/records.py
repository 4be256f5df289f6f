"""Services over sync records: create (idempotently), retry (also with one field
overridden), resolve, skip."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from connectors.catalog import TargetField
from connectors.errors import PermanentError
from connectors.redaction import is_sensitive_name
from integrations import overrides
from integrations.models import Direction, Integration, Status, SyncRecord
from integrations.pipeline import to_storable
from integrations.queue import enqueue_on_commit
from mappings.engine import active_mapping, check_value

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
    extra: dict[str, Any] = {}
    state = dict(record.context or {})
    if (state.get(overrides.KEY) or {}).get("active"):
        # Closed by hand: an active override is done with, as when the record succeeds.
        overrides.overrides_settle(state, attempt=record.attempts, outcome=f"{verb} by {who}")
        extra["context"] = state
    updated = SyncRecord.objects.filter(pk=record.pk, status__in=ACTIONABLE_STATUSES).update(
        **extra,
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


# ---------------------------------------------------------------- retry with one field overridden

# Per flow, which mapping entity's target catalog checks an overridden value, by path:
# (pattern with the catalog field name as group "name", mapping entity). First match wins.
OVERRIDE_CATALOGS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "order_to_cash": (
        (re.compile(r"head\.(?P<name>[^.]+)"), "order_header"),  # M3
        (re.compile(r"lines\.\d+\.(?P<name>[^.]+)"), "order_line"),  # M3 and TIMS
        (re.compile(r"(?P<name>[^.]+)"), "order_header"),  # TIMS: the head is the top level
    ),
    "customers": ((re.compile(r"erp\.(?P<name>[^.]+)"), "customer"),),
}
# Fields no override may touch: the natural keys exactly-once relies on (the ERP finds an
# order by them before creating one; another value would create a second order).
OVERRIDE_PROTECTED: dict[str, frozenset[str]] = {
    "order_to_cash": frozenset({"CUOR", "customer_po"}),
}
# Statuses a record may be retried with an override from: waiting for a person, or given up.
OVERRIDE_STATUSES = (Status.NEEDS_ATTENTION, Status.DEAD, Status.RETRYING)
OVERRIDE_PERMISSION = "integrations.retry_syncrecord"


class OverrideRejected(RecordActionError):
    """The override cannot be used; `field` and `value` name what was wrong."""

    def __init__(self, message: str, *, field: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


@dataclass(frozen=True)
class OverrideCheck:
    """What an override would do: the field, its value now, and the parsed new value."""

    field: str
    old_value: Any
    new_value: Any


def sync_record_override_check(*, record: SyncRecord, field: str, value: str) -> OverrideCheck:
    """Check an override without saving it (the confirm page shows the result).

    The field must be one value of the record's outgoing document, not a natural key; the
    value is parsed like a mapped value (the target catalog's type, length, decimals, allowed
    values, else the type the document holds there). OverrideRejected names field and value.
    """
    field = (field or "").strip()
    if record.status not in OVERRIDE_STATUSES:
        raise OverrideRejected(
            f"record {record.pk} is {record.get_status_display().lower()}; only records that "
            "need attention, are dead or retrying can be retried with an override",
            field=field,
            value=value,
        )
    if record.target_id:
        raise OverrideRejected(
            f"record {record.pk} already wrote {record.target_id} to the target; an override "
            "changes what is sent, and nothing will be sent again (only reconcile runs)",
            field=field,
            value=value,
        )
    document = record.payload_out
    if not isinstance(document, dict | list) or not document:
        raise OverrideRejected(
            f"record {record.pk} has no outgoing document yet (it stopped at "
            f"{record.step or 'its first step'}): an override replaces a value of what is sent "
            "to the target. Fix the mapping or value map the error names, then retry",
            field=field,
            value=value,
        )
    try:
        old = overrides.value_at(document, field)
    except overrides.PathError as error:
        known = ", ".join(path for path, _ in list(overrides.leaf_paths(document))[:12])
        raise OverrideRejected(
            f"field {field!r} is not in the outgoing document ({error}); it has: {known}…",
            field=field,
            value=value,
        ) from None
    if isinstance(old, dict | list):
        raise OverrideRejected(
            f"field {field!r} holds a {'list' if isinstance(old, list) else 'group'} of values; "
            "name one value inside it",
            field=field,
            value=value,
        )
    name = str(overrides.split_path(field)[-1])
    if name in OVERRIDE_PROTECTED.get(record.flow, ()):
        raise OverrideRejected(
            f"field {field!r} is the natural key the target finds this record by; overriding "
            "it could create a second record there",
            field=field,
            value=value,
        )
    if is_sensitive_name(name):
        raise OverrideRejected(
            f"field {field!r} holds a secret and cannot be overridden", field=field, value=value
        )
    new = _override_parse(record, field=field, old=old, value=value)
    if overrides.storable(new) == old:
        raise OverrideRejected(
            f"field {field!r} is already {value!r}; nothing to override", field=field, value=value
        )
    return OverrideCheck(field=field, old_value=old, new_value=new)


def _override_parse(record: SyncRecord, *, field: str, old: Any, value: str) -> Any:
    target = _override_catalog_field(record, field)
    text = "" if value is None else str(value)
    if target is not None:
        if text.strip() == "":
            if target.required:
                raise OverrideRejected(
                    f"field {field!r} is required by {target.name}; it cannot be emptied",
                    field=field,
                    value=value,
                )
            return ""
        parsed, problem = check_value(target, text.strip())
        if problem:
            raise OverrideRejected(f"field {field!r}: {problem[1]}", field=field, value=value)
        return parsed
    # No catalog for this place: the value must be of the kind the document holds there.
    if isinstance(old, bool):
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise OverrideRejected(
                f"field {field!r}: value {text!r} is not true/false", field=field, value=value
            )
        return lowered in ("true", "1", "yes")
    if isinstance(old, int | float):
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise OverrideRejected(
                f"field {field!r}: value {text!r} is not a number", field=field, value=value
            )
        if isinstance(old, int) and number != number.to_integral_value():
            raise OverrideRejected(
                f"field {field!r}: value {text!r} is not a whole number", field=field, value=value
            )
        return int(number) if isinstance(old, int) else float(number)
    return text


def _override_catalog_field(record: SyncRecord, field: str) -> TargetField | None:
    """The target catalog's description of the field, when the flow's mappings have one."""
    for pattern, entity in OVERRIDE_CATALOGS.get(record.flow, ()):
        match = pattern.fullmatch(field)
        if match is None:
            continue
        integration = record.integration
        system = (
            integration.erp_connection.system
            if record.direction == Direction.SHOP_TO_ERP
            else integration.shop_connection.system
        )
        try:
            compiled = active_mapping(
                integration_id=integration.pk, entity=entity, target_system=system
            )
        except PermanentError:
            return None  # no active mapping set: checked by the document's own types
        return compiled.catalog.get(match["name"]) if compiled.catalog else None
    return None


def sync_record_retry_with_override(
    *,
    record: SyncRecord,
    field: str,
    value: str,
    user: AbstractBaseUser | AnonymousUser | None,
    reason: str,
) -> SyncRecord:
    """Retry one record now with one value of its outgoing document replaced.

    Only a person allowed to retry (Operator, superuser) may; a reason is required. The
    override, who made it and why are kept on the record (context["override"]: the active
    override and an append-only history) and stay active until the record succeeds; see
    integrations.overrides for which document and why.
    """
    if user is None or not user.has_perm(OVERRIDE_PERMISSION):
        raise PermissionDenied("only an Operator may retry a record with an override")
    reason = (reason or "").strip()
    if not reason:
        raise OverrideRejected(
            f"record {record.pk}: a reason is required to override {field!r}",
            field=field,
            value=value,
        )
    who = user.get_username()
    with transaction.atomic():
        # Locked and re-read: a worker that claimed it meanwhile would overwrite the context.
        current = SyncRecord.objects.select_for_update().get(pk=record.pk)
        check = sync_record_override_check(record=current, field=field, value=value)
        now = timezone.now()
        state = overrides.state_of(current.context)
        new_value = overrides.storable(check.new_value)
        entry = {
            "value": new_value,
            "old_value": check.old_value,
            "user": who,
            "reason": reason[:1000],
            "at": now.isoformat(),
        }
        state["active"][check.field] = entry
        state["history"].append({"event": overrides.SET, "field": check.field, **entry})
        context = {**(current.context or {}), overrides.KEY: state}
        updated = SyncRecord.objects.filter(pk=current.pk, status__in=OVERRIDE_STATUSES).update(
            context=to_storable(context),
            status=Status.PENDING,
            failures=0,
            next_attempt_at=None,
            finished_at=None,
            updated_at=now,
        )
        if not updated:
            raise OverrideRejected(
                f"record {record.pk} changed while the override was made; look again",
                field=field,
                value=value,
            )
        enqueue_on_commit([current.pk])
    record.refresh_from_db()
    return record
