"""Reads the mappings need from elsewhere, kept in one place.

Imports flow integrations → mappings, never back: sync records are reached through the
integration foreign key's model, not by importing integrations.
"""

from typing import Any

from django.db.models import Q, QuerySet

from mappings.models import Entity, MappingSet

# Which flows carry documents of an entity (matched against SyncRecord.flow).
ENTITY_FLOW_WORDS: dict[str, tuple[str, ...]] = {
    Entity.ORDER_HEADER: ("order",),
    Entity.ORDER_LINE: ("order",),
    Entity.CUSTOMER: ("customer",),
    Entity.ADDRESS: ("customer", "address"),
    Entity.PRODUCT: ("product",),
    Entity.STOCK: ("stock", "inventory"),
    Entity.STATUS_BACK: ("status",),
}


def sync_record_model() -> Any:
    integration = MappingSet._meta.get_field("integration").related_model
    return integration._meta.get_field("records").related_model


def recent_records(mapping_set: MappingSet, *, limit: int = 50, flow: str = "") -> QuerySet:
    """The newest records with a stored source document that this set would map."""
    records = sync_record_model().objects.filter(
        payload_in__isnull=False, direction=mapping_set.direction
    )
    if mapping_set.integration_id:
        records = records.filter(integration_id=mapping_set.integration_id)
    if flow:
        records = records.filter(flow=flow)
    else:
        words = Q()
        for word in ENTITY_FLOW_WORDS.get(mapping_set.entity, ()):
            words |= Q(flow__icontains=word)
        records = records.filter(words)
    return records.order_by("-id")[:limit]
