"""Writes on mapping sets (admin actions call these)."""

from django.db import transaction

from mappings.models import MappingSet


@transaction.atomic
def mapping_set_promote(*, mapping_set: MappingSet) -> None:
    """Make one set the active one for its integration, entity and target operation."""
    others = MappingSet.objects.filter(
        integration_id=mapping_set.integration_id,
        entity=mapping_set.entity,
        direction=mapping_set.direction,
        target_system=mapping_set.target_system,
        operation=mapping_set.operation,
        active=True,
    ).exclude(pk=mapping_set.pk)
    for other in others:
        other.active = False
        other.save()
    mapping_set.active = True
    mapping_set.save()


@transaction.atomic
def mapping_set_copy(*, mapping_set: MappingSet) -> MappingSet:
    fields = list(mapping_set.fields.all())
    rules = list(mapping_set.rules.all())
    base = f"{mapping_set.name} (draft"
    taken = set(
        MappingSet.objects.filter(
            integration_id=mapping_set.integration_id, name__startswith=base
        ).values_list("name", flat=True)
    )
    number = 1
    while f"{base} {number})" in taken:
        number += 1
    copy = MappingSet.objects.create(
        name=f"{base} {number})"[:100],
        integration_id=mapping_set.integration_id,
        entity=mapping_set.entity,
        direction=mapping_set.direction,
        target_system=mapping_set.target_system,
        operation=mapping_set.operation,
        active=False,
        description=mapping_set.description,
        preview_context=mapping_set.preview_context,
    )
    for row in fields + rules:
        row.pk = None
        row.mapping_set = copy
        row.save()
    return copy
