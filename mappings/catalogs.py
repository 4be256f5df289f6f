"""Where the mappings find target field catalogs: whatever the connectors publish, plus any
registered explicitly (tests, a custom connector).

A connector publishes its catalogs in `connectors/<system>/catalog.py`, either as a tuple
`CATALOGS` or a function `catalogs()`. The modules listed in CATALOG_MODULES (a setting
`MAPPING_CATALOG_MODULES` overrides it) are read once, on first use; a module that does not
exist yet is skipped, so a system without a connector simply has no catalog: its mapping sets
save, but their fields are not checked (manage.py check warns, mappings.W001).
"""

import importlib
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

from connectors.catalog import Catalog

CATALOG_MODULES = (
    "connectors.prestashop.catalog",
    "connectors.infor.catalog",
    "connectors.tims.catalog",
)

# Registered with register(): these win over a connector's catalog of the same name.
_registered: dict[tuple[str, str], Catalog] = {}


def register(catalog: Catalog) -> Catalog:
    _registered[(catalog.system, catalog.operation)] = catalog
    return catalog


def unregister(catalog: Catalog) -> None:
    _registered.pop((catalog.system, catalog.operation), None)


@lru_cache(maxsize=1)
def _published() -> dict[tuple[str, str], Catalog]:
    found: dict[tuple[str, str], Catalog] = {}
    for module_name in getattr(settings, "MAPPING_CATALOG_MODULES", CATALOG_MODULES):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only "this connector is not there yet"; a broken import inside it must surface.
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue
        published = getattr(module, "CATALOGS", None)
        if published is None and callable(getattr(module, "catalogs", None)):
            published = module.catalogs()
        for catalog in _as_catalogs(published or ()):
            found[(catalog.system, catalog.operation)] = catalog
    return found


def _as_catalogs(items: Iterable[object]) -> Iterable[Catalog]:
    return (item for item in items if isinstance(item, Catalog))


def reload() -> None:
    """Forget what was read from the connectors (after a connector module changed)."""
    _published.cache_clear()


def get_catalog(system: str, operation: str) -> Catalog | None:
    return _registered.get((system, operation)) or _published().get((system, operation))


def all_catalogs() -> list[Catalog]:
    merged = {**_published(), **_registered}
    return sorted(merged.values(), key=lambda c: (c.system, c.operation))


def operation_choices(system: str | None = None) -> list[tuple[str, str]]:
    return [
        (c.operation, f"{c.operation} — {c.description}" if c.description else c.operation)
        for c in all_catalogs()
        if system is None or c.system == system
    ]


def field_choices(catalog: Catalog | None) -> list[tuple[str, str]]:
    if catalog is None:
        return []
    return [(f.name, describe_field(f.name, catalog)) for f in catalog.fields]


def describe_field(name: str, catalog: Catalog) -> str:
    target = catalog.get(name)
    if target is None:
        return name
    facts = [str(target.type)]
    if target.max_length:
        facts.append(f"max {target.max_length}")
    if target.required:
        facts.append("required")
    label = f"{name} ({', '.join(facts)})"
    return f"{label} {target.description}" if target.description else label


def check_field(catalog: Catalog | None, name: str) -> str:
    """An error message when the catalog does not know the field, else ''."""
    if catalog is None or catalog.get(name) is not None:
        return ""
    known = ", ".join(f.name for f in catalog.fields)
    return (
        f"Unknown target field {name!r} for {catalog.system} {catalog.operation}; "
        f"the catalog has: {known}."
    )
