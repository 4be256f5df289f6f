"""Mapping sets and value maps as plain data: export, import with a diff, compile inputs.

One format serves the export/import commands, the default mapping sets under
mappings/defaults/ and the engine (a set's definition is what gets compiled):

    format: shopsync.mappings/1
    value_maps:
      - name: ps_state_to_ortp
        fallback: A01            # only when unmapped values take a fallback
        entries: [{source: "2", target: A01}]
    mapping_sets:
      - name: M3 order head
        integration: null        # a slug, or null for a template
        entity: order_header
        ...
        fields: [{target: CUOR, source: reference, transforms: "truncate(20)"}]
        # item master sets add `owner: shop` on fields the shop owns (default erp)
        rules: [{name: B2B, condition: "customer.group == 'B2B'", assignments: {ORTP: B2B}}]

Keys holding their default value are left out, so an export reads short and re-importing
what was just exported compares equal and changes nothing.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from connectors.catalog import Catalog
from mappings import catalogs
from mappings.models import FieldMapping, MappingSet, Rule, ValueMap, ValueMapEntry
from mappings.transforms import ValueTable, parse_chain, value_maps_used

FORMAT = "shopsync.mappings/1"

_FIELD_DEFAULTS = {
    "source": "",
    "transforms": "",
    "default": "",
    "required": False,
    "condition": "",
    "note": "",
    # Item master only (mappings.models.Owner); the default is left out of files.
    "owner": "erp",
}
_RULE_DEFAULTS = {"mode": "set", "active": True}
_SET_DEFAULTS = {
    "integration": None,
    "direction": "shop_to_erp",
    "active": False,
    "description": "",
    "preview_context": {},
}


class ImportProblem(ValueError):
    """The file cannot be imported; the message names the set, the row and the mistake."""


# --- export ---------------------------------------------------------------------------------


def mapping_set_to_dict(mapping_set: MappingSet) -> dict[str, Any]:
    integration = mapping_set.integration.slug if mapping_set.integration_id else None
    data = {
        "name": mapping_set.name,
        "integration": integration,
        "entity": mapping_set.entity,
        "direction": mapping_set.direction,
        "target_system": mapping_set.target_system,
        "operation": mapping_set.operation,
        "active": mapping_set.active,
        "description": mapping_set.description,
        "preview_context": mapping_set.preview_context or {},
        "fields": [
            {
                "target": f.target_field,
                "source": f.source,
                "transforms": f.transforms,
                "default": f.default,
                "required": f.required,
                "condition": f.condition,
                "note": f.note,
                "owner": f.owner,
            }
            for f in mapping_set.fields.all()
        ],
        "rules": [
            {
                "name": r.name,
                "condition": r.condition,
                "assignments": r.assignments,
                "mode": r.mode,
                "active": r.active,
            }
            for r in mapping_set.rules.all()
        ],
    }
    return normalize_set(data)


def value_map_to_dict(value_map: ValueMap) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": value_map.name,
        "description": value_map.description,
        "case_sensitive": value_map.case_sensitive,
    }
    if value_map.has_fallback:
        data["fallback"] = value_map.fallback
    data["entries"] = [
        {"source": e.source_value, "target": e.target_value, "note": e.note}
        for e in value_map.entries.all()
    ]
    return normalize_value_map(data)


def export_data(*, integration: str | None = None, templates_only: bool = False) -> dict:
    """Everything (or one integration's sets) with the value maps they use."""
    sets = MappingSet.objects.select_related("integration").prefetch_related("fields", "rules")
    if integration:
        sets = sets.filter(integration__slug=integration)
    if templates_only:
        sets = sets.filter(integration__isnull=True)
    set_dicts = [mapping_set_to_dict(s) for s in sets.order_by("integration__slug", "name")]
    maps = ValueMap.objects.prefetch_related("entries").order_by("name")
    if integration or templates_only:
        maps = maps.filter(name__in=value_maps_of(set_dicts))
    return {
        "format": FORMAT,
        "value_maps": [value_map_to_dict(m) for m in maps],
        "mapping_sets": set_dicts,
    }


def dump(data: dict, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def load(text: str) -> dict:
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ImportProblem(f"not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportProblem(f"not a mappings file: expected 'format: {FORMAT}' at the top")
    return data


# --- normal form (both sides of a comparison) -------------------------------------------------


def _strip(data: dict, defaults: dict) -> dict:
    return {k: v for k, v in data.items() if not (k in defaults and v == defaults[k])}


def normalize_set(data: dict) -> dict:
    result = _strip({**data}, _SET_DEFAULTS)
    result["fields"] = [_strip(dict(f), _FIELD_DEFAULTS) for f in data.get("fields") or ()]
    result["rules"] = [_strip(dict(r), _RULE_DEFAULTS) for r in data.get("rules") or ()]
    if not result["rules"]:
        del result["rules"]
    for key in ("name", "entity", "target_system", "operation"):
        if not isinstance(result.get(key), str) or not result[key]:
            raise ImportProblem(f"mapping set {data.get('name')!r}: {key} is missing")
    return result


def normalize_value_map(data: dict) -> dict:
    result = _strip(dict(data), {"description": "", "case_sensitive": False})
    entries = [
        _strip(
            {
                "source": str(e["source"]),
                "target": str(e.get("target", "")),
                "note": str(e.get("note", "")),
            },
            {"note": ""},
        )
        for e in data.get("entries") or ()
    ]
    result["entries"] = sorted(entries, key=lambda e: e["source"])
    if not isinstance(result.get("name"), str) or not result["name"]:
        raise ImportProblem("a value map has no name")
    return result


def value_maps_of(set_dicts: list[dict]) -> set[str]:
    names: set[str] = set()
    for data in set_dicts:
        for spec in data.get("fields", ()):
            names |= value_maps_used(parse_chain(spec.get("transforms", "")))
    return names


# --- compile inputs -------------------------------------------------------------------------


def compile_inputs(
    mapping_set: MappingSet,
) -> tuple[dict[str, Any], dict[str, ValueTable], Catalog | None]:
    """What the engine compiles: the set as data, the value maps it uses, its catalog."""
    fresh = MappingSet.objects.select_related("integration").prefetch_related("fields", "rules")
    definition = mapping_set_to_dict(fresh.get(pk=mapping_set.pk))
    tables = value_tables(value_maps_of([definition]))
    catalog = catalogs.get_catalog(mapping_set.target_system, mapping_set.operation)
    return definition, tables, catalog


def value_tables(names: set[str]) -> dict[str, ValueTable]:
    """The named value maps, ready for lookups."""
    return {
        m.name: ValueTable.build(
            m.name,
            {e.source_value: e.target_value for e in m.entries.all()},
            case_sensitive=m.case_sensitive,
            has_fallback=m.has_fallback,
            fallback=m.fallback,
        )
        for m in ValueMap.objects.filter(name__in=names).prefetch_related("entries")
    }


# --- import ---------------------------------------------------------------------------------


@dataclass
class ImportReport:
    changes: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged" + (
            f", {self.kept} kept as they were" if self.kept else ""
        )


class _DryRunRollback(Exception):
    pass


def import_data(data: dict, *, dry_run: bool = False, only_missing: bool = False) -> ImportReport:
    """Create or update what the file holds; with dry_run nothing is written (the same code
    runs in a transaction that is rolled back). only_missing leaves existing objects alone."""
    report = ImportReport()
    try:
        with transaction.atomic():
            for raw in data.get("value_maps") or ():
                _import_value_map(normalize_value_map(raw), report, only_missing)
            for raw in data.get("mapping_sets") or ():
                _import_set(normalize_set(raw), report, only_missing)
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    return report


def _import_value_map(data: dict, report: ImportReport, only_missing: bool) -> None:
    name = data["name"]
    existing = ValueMap.objects.filter(name=name).prefetch_related("entries").first()
    if existing is not None:
        before = value_map_to_dict(existing)
        if before == data:
            report.unchanged += 1
            return
        if only_missing:
            report.kept += 1
            report.changes.append(f"= value map {name}: differs from the file, kept as it is")
            return
    value_map = existing or ValueMap(name=name)
    value_map.description = data.get("description", "")
    value_map.case_sensitive = data.get("case_sensitive", False)
    value_map.has_fallback = "fallback" in data
    value_map.fallback = str(data.get("fallback") or "")
    _save(value_map, f"value map {name}")
    old = {e.source_value: e for e in value_map.entries.all()} if existing else {}
    new = {e["source"]: e for e in data["entries"]}
    lines = []
    for source, entry in new.items():
        current = old.get(source)
        if current and (current.target_value, current.note) == (
            entry["target"],
            entry.get("note", ""),
        ):
            continue
        row = current or ValueMapEntry(value_map=value_map, source_value=source)
        row.target_value, row.note = entry["target"], entry.get("note", "")
        _save(row, f"value map {name}, entry {source!r}")
        lines.append(f"{'~' if current else '+'} {source!r} → {entry['target']!r}")
    for source in sorted(set(old) - set(new)):
        old[source].delete()
        lines.append(f"- {source!r}")
    if existing is None:
        report.created += 1
        report.changes.append(f"+ value map {name} ({len(new)} entries)")
    else:
        report.updated += 1
        report.changes.append(f"~ value map {name}: " + ", ".join(lines or ["settings"]))


def _import_set(data: dict, report: ImportReport, only_missing: bool) -> None:
    name, slug = data["name"], data.get("integration")
    label = f"mapping set {name!r}" + (f" of {slug}" if slug else " (template)")
    integration = _integration(slug, label)
    existing = (
        MappingSet.objects.filter(name=name, integration=integration)
        .select_related("integration")
        .prefetch_related("fields", "rules")
        .first()
    )
    before = mapping_set_to_dict(existing) if existing else None
    if before == data:
        report.unchanged += 1
        return
    if existing is not None and only_missing:
        report.kept += 1
        report.changes.append(f"= {label}: differs from the file, kept as it is")
        return
    mapping_set = existing or MappingSet(name=name, integration=integration)
    for key in ("entity", "direction", "target_system", "operation", "active", "description"):
        setattr(mapping_set, key, data.get(key, _SET_DEFAULTS.get(key, "")))
    mapping_set.preview_context = data.get("preview_context", {})
    _save(mapping_set, label)
    old_fields = before["fields"] if before else []
    if old_fields != data["fields"]:
        mapping_set.fields.all().delete()
        for position, spec in enumerate(data["fields"], start=1):
            row = FieldMapping(
                mapping_set=mapping_set,
                position=position * 10,
                target_field=spec["target"],
                **{k: spec.get(k, d) for k, d in _FIELD_DEFAULTS.items()},
            )
            _save(row, f"{label}, field {position} ({spec['target']})")
    old_rules = before.get("rules", []) if before else []
    if old_rules != data.get("rules", []):
        mapping_set.rules.all().delete()
        for position, spec in enumerate(data.get("rules", []), start=1):
            row = Rule(
                mapping_set=mapping_set,
                position=position * 10,
                name=spec["name"],
                condition=spec.get("condition", ""),
                assignments=spec.get("assignments", {}),
                mode=spec.get("mode", "set"),
                active=spec.get("active", True),
            )
            _save(row, f"{label}, rule {spec['name']!r}")
    if existing is None:
        report.created += 1
        report.changes.append(f"+ {label}: {len(data['fields'])} fields")
    else:
        report.updated += 1
        report.changes.append(f"~ {label}: " + "; ".join(_diff(before, data)))


def _integration(slug: str | None, label: str) -> Any:
    if not slug:
        return None
    model = MappingSet._meta.get_field("integration").related_model
    found = model.objects.filter(slug=slug).first()
    if found is None:
        raise ImportProblem(f"{label}: integration {slug!r} does not exist")
    return found


def _save(obj: Any, label: str) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()
        )
        raise ImportProblem(f"{label}: {problems}") from None
    obj.save()


def _diff(before: dict, after: dict) -> list[str]:
    lines = []
    for key in sorted((set(before) | set(after)) - {"fields", "rules"}):
        if before.get(key) != after.get(key):
            lines.append(f"{key}: {before.get(key)!r} → {after.get(key)!r}")
    old = {f["target"]: f for f in before.get("fields", [])}
    new = {f["target"]: f for f in after.get("fields", [])}
    for target in new.keys() - old.keys():
        lines.append(f"+ field {target}")
    for target in old.keys() - new.keys():
        lines.append(f"- field {target}")
    for target in old.keys() & new.keys():
        for key in sorted(set(old[target]) | set(new[target])):
            if old[target].get(key) != new[target].get(key):
                lines.append(
                    f"~ {target}.{key}: {old[target].get(key)!r} → {new[target].get(key)!r}"
                )
    old_order = [f["target"] for f in before.get("fields", [])]
    if old_order != [f["target"] for f in after["fields"]] and old.keys() == new.keys():
        lines.append("~ field order")
    if before.get("rules", []) != after.get("rules", []):
        lines.append("~ rules")
    return sorted(lines) or ["(no visible change)"]
