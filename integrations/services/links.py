"""The binder (OCA connector's vocabulary): shop ids <-> ERP ids per entity.

Both directions are unique in the database, so a race to bind the same order twice fails
loudly instead of leaving two ERP orders linked to one shop order.
"""

from typing import Any

from django.db import IntegrityError, transaction

from connectors.errors import PermanentError
from integrations.models import Integration, Link, SyncRecord


def link_to_erp(*, integration: Integration, entity: str, shop_id: str) -> str | None:
    return (
        Link.objects.filter(integration=integration, entity=entity, shop_id=str(shop_id))
        .values_list("erp_id", flat=True)
        .first()
    )


def link_to_shop(*, integration: Integration, entity: str, erp_id: str) -> str | None:
    return (
        Link.objects.filter(integration=integration, entity=entity, erp_id=str(erp_id))
        .values_list("shop_id", flat=True)
        .first()
    )


def link_bind(
    *,
    integration: Integration,
    entity: str,
    shop_id: str,
    erp_id: str,
    record: SyncRecord | None = None,
    data: dict[str, Any] | None = None,
) -> Link:
    """Bind shop_id to erp_id. Binding the same pair again is a no-op; binding either id to a
    different partner is refused with a PermanentError naming both."""
    shop_id, erp_id = str(shop_id), str(erp_id)
    existing = Link.objects.filter(integration=integration, entity=entity, shop_id=shop_id).first()
    if existing is not None:
        if existing.erp_id != erp_id:
            raise PermanentError(
                f"{entity} {shop_id} is already linked to ERP {entity} {existing.erp_id}, "
                f"not {erp_id}; unlink it under Links first if that is wrong",
                field=f"{entity}.shop_id",
                value=shop_id,
            )
        return existing
    try:
        with transaction.atomic():
            return Link.objects.create(
                integration=integration,
                entity=entity,
                shop_id=shop_id,
                erp_id=erp_id,
                record=record,
                data=data or {},
            )
    except IntegrityError:
        other = Link.objects.filter(integration=integration, entity=entity, erp_id=erp_id).first()
        same = Link.objects.filter(
            integration=integration, entity=entity, shop_id=shop_id, erp_id=erp_id
        ).first()
        if same is not None:
            return same  # a concurrent bind of the same pair won
        raise PermanentError(
            f"ERP {entity} {erp_id} is already linked to shop {entity} "
            f"{other.shop_id if other else '?'}, so it cannot also be linked to {shop_id}",
            field=f"{entity}.erp_id",
            value=erp_id,
        ) from None
