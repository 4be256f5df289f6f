"""System checks: an active mapping set whose target catalog nobody publishes is unchecked."""

from typing import Any

from django.core import checks
from django.db import DatabaseError

from mappings import catalogs


@checks.register(checks.Tags.database)
def check_catalogs(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from mappings.models import MappingSet

    try:
        active = list(
            MappingSet.objects.filter(active=True).values_list(
                "pk", "name", "target_system", "operation"
            )
        )
    except DatabaseError:  # not migrated yet
        return []
    return [
        checks.Warning(
            f"Mapping set {name!r} targets {system} {operation!r}, which no connector catalog "
            "publishes: its fields and values are not checked before sending.",
            hint="Fix the operation name, or add the catalog to connectors/<system>/catalog.py.",
            obj=f"mappings.MappingSet(pk={pk})",
            id="mappings.W001",
        )
        for pk, name, system, operation in active
        if catalogs.get_catalog(system, operation) is None
    ]
