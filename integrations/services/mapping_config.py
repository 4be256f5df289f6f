"""Reads for configuring mappings over the API (integrations.api)."""

from mappings import transforms
from mappings.models import FieldMapping


def value_map_users(name: str) -> list[int]:
    """Ids of the field mappings whose transforms name value map `name` (parsed as the engine
    parses them, so a mere mention in another argument does not count)."""
    users = []
    candidates = FieldMapping.objects.filter(transforms__contains=name).only("pk", "transforms")
    for field in candidates.order_by("pk"):
        try:
            used = transforms.value_maps_used(transforms.parse_chain(field.transforms))
        except transforms.ChainError:
            continue  # a chain that does not parse names no value map the engine could use
        if name in used:
            users.append(field.pk)
    return users
