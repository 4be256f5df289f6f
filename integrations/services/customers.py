"""Shop customers ⇄ ERP customers for the order flow: the link, the comparison, the creation
lock, and the three ways a person resolves an e-mail conflict.

A shop customer is linked to its ERP customer by e-mail (entity "customer", shop id = the
lower-cased e-mail), not by shop customer id: guest checkouts give one person many shop ids,
and the link table is unique both ways.

Conflict: the ERP already has a customer with the order's e-mail but other details (name,
postcode, country…). The order flow stops at needs attention with a side-by-side diff in the
record's context under "customer_conflict"; a person then picks one of:

    customer_conflict_link_existing  use the ERP customer as it is
    customer_conflict_update_erp     overwrite the ERP customer with the shop's details
    customer_conflict_create_new     create another ERP customer for this order's customer
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.canonical import Customer, Order, parse_document
from connectors.errors import TransientError
from integrations.models import Integration, Link, Status, SyncRecord
from integrations.services.links import link_bind
from integrations.services.records import RecordActionError, sync_record_retry
from mappings.engine import active_mapping, map_document

ENTITY = "customer"
LOCK_ENTITY = "customer.lock"
CONFLICT_KEY = "customer_conflict"
# Details compared when the ERP already has the e-mail (flow option customer_match_fields).
DEFAULT_MATCH_FIELDS = ("name", "postcode", "country")
# A creation lock older than this was left by a crashed worker and may be taken over.
LOCK_STALE_AFTER = timedelta(minutes=10)
# Seconds the losing order waits before it looks again (the winner links the customer).
LOCK_RETRY_AFTER = 2.0


def customer_key(email: str) -> str:
    """The link's shop id for an e-mail (hashed only when longer than the column)."""
    email = email.strip().lower()
    if len(email) <= 100:
        return email
    return "sha256:" + hashlib.sha256(email.encode()).hexdigest()


def shop_details(order: Order) -> dict[str, str]:
    """The customer's details as the shop has them, in the comparison's names."""
    customer, billing = order.customer, order.billing_address
    # As the default customer mappings name a new ERP customer: company, else the person.
    name = customer.company or " ".join(p for p in (customer.first_name, customer.last_name) if p)
    return {
        "email": str(customer.email),
        "name": name,
        "postcode": billing.postcode,
        "city": billing.city,
        "country": str(billing.country),
    }


def _norm(value: str) -> str:
    return " ".join(str(value or "").casefold().split())


def customer_diff(
    shop: dict[str, str], erp: dict[str, str], fields: tuple[str, ...] | list[str]
) -> list[dict[str, str]]:
    """Fields whose values differ (both sides set). A value the ERP holds cut short (a field
    length) is the same value."""
    diff = []
    for name in fields:
        ours, theirs = _norm(shop.get(name, "")), _norm(erp.get(name, ""))
        if not ours or not theirs or ours == theirs or ours.startswith(theirs):
            continue
        diff.append({"field": name, "shop": shop.get(name, ""), "erp": erp.get(name, "")})
    return diff


def customer_payload(*, integration: Integration, order: Order, target_system: str) -> dict:
    """The ERP customer's write payload for an order's customer (its billing address)."""
    customer = order.customer.model_copy(update={"addresses": [order.billing_address]})
    return customer_payload_of(
        integration=integration, customer=customer, target_system=target_system
    )


def customer_payload_of(
    *, integration: Integration, customer: Customer, target_system: str
) -> dict:
    """The ERP customer's write payload, through the integration's active customer mapping."""
    compiled = active_mapping(
        integration_id=integration.pk, entity="customer", target_system=target_system
    )
    return map_document(compiled, customer, context={"integration": integration.slug})


@contextmanager
def customer_create_lock(
    *, integration: Integration, key: str, record: SyncRecord
) -> Iterator[None]:
    """Only one order creates the ERP customer of one e-mail at a time.

    Race: two first orders of one new customer run on two workers; both find no customer
    and both would create one. The lock is a row in the link table (unique per e-mail): the
    loser gets a TransientError and, on its retry, finds the winner's link.
    """
    owner = f"record:{record.pk}"
    try:
        with transaction.atomic():
            Link.objects.create(
                integration=integration, entity=LOCK_ENTITY, shop_id=key, erp_id=owner
            )
    except IntegrityError:
        holder = Link.objects.filter(
            integration=integration, entity=LOCK_ENTITY, shop_id=key
        ).first()
        if holder is None or holder.erp_id != owner:
            if holder is not None and not _lock_abandoned(holder):
                raise TransientError(
                    f"the ERP customer for {key!r} is being created by sync record "
                    f"{holder.erp_id.split(':')[-1]}; this order follows once it is linked",
                    retry_after=LOCK_RETRY_AFTER,
                ) from None
            taken = Link.objects.filter(
                integration=integration,
                entity=LOCK_ENTITY,
                shop_id=key,
                erp_id=holder.erp_id if holder else "",
            ).update(erp_id=owner, updated_at=timezone.now())
            if not taken:
                raise TransientError(
                    f"the ERP customer for {key!r} is being created by another order",
                    retry_after=LOCK_RETRY_AFTER,
                ) from None
    try:
        yield
    finally:
        Link.objects.filter(
            integration=integration, entity=LOCK_ENTITY, shop_id=key, erp_id=owner
        ).delete()


def customer_being_created(*, integration: Integration, key: str, record: SyncRecord) -> bool:
    """Whether another running order holds the creation lock of this e-mail right now (it
    may have created the ERP customer and not linked it yet)."""
    holder = Link.objects.filter(integration=integration, entity=LOCK_ENTITY, shop_id=key).first()
    return (
        holder is not None
        and holder.erp_id != f"record:{record.pk}"
        and not _lock_abandoned(holder)
    )


def _lock_abandoned(holder: Link) -> bool:
    if holder.updated_at and timezone.now() - holder.updated_at > LOCK_STALE_AFTER:
        return True
    try:
        pk = int(holder.erp_id.split(":")[-1])
    except ValueError:
        return True
    status = SyncRecord.objects.filter(pk=pk).values_list("status", flat=True).first()
    # A holder that is not running cannot be creating anything now.
    return status != Status.RUNNING


# ---------------------------------------------------------------- conflict resolution


def _conflict(record: SyncRecord) -> dict[str, Any]:
    conflict = (record.context or {}).get(CONFLICT_KEY)
    if record.status != Status.NEEDS_ATTENTION or not conflict:
        raise RecordActionError(
            f"record {record.pk} has no customer conflict to resolve (status "
            f"{record.get_status_display().lower()})"
        )
    return conflict


def _shop_customer(record: SyncRecord) -> Customer:
    """The shop customer of a record: an order's (with its billing address) or a customer's
    (the customers flow stores the Customer itself)."""
    data = record.payload_in or {}
    if isinstance(data, dict) and "lines" in data:
        order = parse_document(Order, data)
        return order.customer.model_copy(update={"addresses": [order.billing_address]})
    return parse_document(Customer, data)


def _resolved(record: SyncRecord, *, erp_number: str, how: str, user: Any) -> SyncRecord:
    conflict = _conflict(record)
    link_bind(
        integration=record.integration,
        entity=ENTITY,
        shop_id=customer_key(conflict["email"]),
        erp_id=erp_number,
        record=record,
        data={"resolved": how, "email": conflict["email"]},
    )
    context = dict(record.context or {})
    context.pop(CONFLICT_KEY, None)
    who = getattr(user, "get_username", lambda: "system")() if user else "system"
    context["customer_resolution"] = {"how": how, "erp_customer": erp_number, "by": who}
    SyncRecord.objects.filter(pk=record.pk).update(context=context, updated_at=timezone.now())
    record.refresh_from_db()
    return sync_record_retry(record=record, user=user)


def customer_conflict_link_existing(
    *, record: SyncRecord, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Link the shop customer to the ERP customer that has the e-mail, as it is; retry."""
    conflict = _conflict(record)
    return _resolved(
        record, erp_number=conflict["erp_customer"]["number"], how="linked existing", user=user
    )


def customer_conflict_update_erp(
    *, record: SyncRecord, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Overwrite the ERP customer's details with the shop's, link it, retry the order."""
    from integrations.flows.erp import erp_adapter

    conflict = _conflict(record)
    number = conflict["erp_customer"]["number"]
    adapter = erp_adapter(record.integration)
    try:
        payload = customer_payload_of(
            integration=record.integration,
            customer=_shop_customer(record),
            target_system=adapter.system,
        )
        adapter.customer_update(number, payload)
    finally:
        adapter.close()
    return _resolved(record, erp_number=number, how="updated ERP customer", user=user)


def customer_conflict_create_new(
    *, record: SyncRecord, user: AbstractBaseUser | AnonymousUser | None = None
) -> SyncRecord:
    """Create a new ERP customer from the shop's details (the other keeps the e-mail too)."""
    from integrations.flows.erp import erp_adapter

    _conflict(record)
    adapter = erp_adapter(record.integration)
    try:
        payload = customer_payload_of(
            integration=record.integration,
            customer=_shop_customer(record),
            target_system=adapter.system,
        )
        number = adapter.customer_create(
            payload, idempotency_key=f"shopsync-{record.integration_id}-conflict-{record.pk}"
        )
    finally:
        adapter.close()
    return _resolved(record, erp_number=number, how="created new ERP customer", user=user)
