"""The mapping engine: a mapping set compiled once into a plan, then applied to documents.

    compiled = compiled_for(mapping_set)          # cached per (id, version, updated_at)
    payload = map_document(compiled, order, context={"customer_number": "C0042"})

`map_document` returns the target payload (typed values: str, Decimal, int, date, bool) or
raises one DataError listing every violation, each as field + value + rule, e.g.
"CUOR: value 'PS-000123…' is 24 long, the limit is 20". Values are checked against the
target's field catalog: types, lengths, decimals, required fields, allowed values.

Order lines are mapped one by one, each line document being the line with its order header
under `order` (see `line_documents`), so `order.reference` reaches the header from a line.
"""

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from jmespath.exceptions import JMESPathError
from pydantic import BaseModel

from connectors.catalog import Catalog, FieldType, TargetField
from connectors.errors import DataError, PermanentError
from mappings import catalogs
from mappings.expressions import ExpressionError, Getter, compile_expression
from mappings.transforms import (
    ChainError,
    RateLookup,
    Step,
    TransformContext,
    ValueTable,
    parse_chain,
    quote,
    run_chain,
    value_maps_used,
)

EMPTY = (None, "", [])
RULE_SET, RULE_ENRICH = "set", "enrich"


@dataclass(frozen=True)
class Violation:
    field: str
    value: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "value": self.value,
            "rule": self.rule,
            "message": self.message,
        }


@dataclass(frozen=True)
class CompiledField:
    target: str
    source: str
    getter: Getter | None
    steps: tuple[Step, ...]
    default: str
    required: bool
    condition: Getter | None
    catalog_field: TargetField | None


@dataclass(frozen=True)
class CompiledRule:
    name: str
    condition: Getter
    assignments: Mapping[str, Any]
    mode: str


@dataclass(frozen=True)
class CompiledMapping:
    name: str
    entity: str
    target_system: str
    operation: str
    catalog: Catalog | None
    fields: tuple[CompiledField, ...]
    rules: tuple[CompiledRule, ...]
    value_maps: Mapping[str, ValueTable]
    key: tuple = ()
    required: tuple[str, ...] = field(default=())


class MappingFailed(DataError):
    """A document that did not map; `violations` lists every problem."""

    def __init__(self, message: str, *, violations: list[Violation], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.violations = violations


# --- compile ------------------------------------------------------------------------------


def compile_definition(
    definition: Mapping[str, Any],
    *,
    value_maps: Mapping[str, ValueTable],
    catalog: Catalog | None = None,
    key: tuple = (),
) -> CompiledMapping:
    """Compile a mapping set given as data (the export format, see mappings.serialization).

    A mistake that slipped past save (an import, a catalog that changed since) raises a
    DataError naming the field and the bad text.
    """
    name = definition.get("name", "")
    compiled_fields = []
    for spec in definition.get("fields", ()):
        target = spec["target"]
        problem = catalogs.check_field(catalog, target)
        if problem:
            raise DataError(f"mapping set {name!r}: {problem}", field=target, value=target)
        compiled_fields.append(
            CompiledField(
                target=target,
                source=spec.get("source", ""),
                getter=_compile(name, target, spec.get("source", "")),
                steps=_chain(name, target, spec.get("transforms", "")),
                default=spec.get("default", ""),
                required=bool(spec.get("required")),
                condition=_compile(name, target, spec.get("condition", "")),
                catalog_field=catalog.get(target) if catalog else None,
            )
        )
    compiled_rules = []
    for spec in definition.get("rules", ()):
        if not spec.get("active", True):
            continue
        for target in spec.get("assignments", {}):
            problem = catalogs.check_field(catalog, target)
            if problem:
                raise DataError(f"rule {spec['name']!r}: {problem}", field=target, value=target)
        compiled_rules.append(
            CompiledRule(
                name=spec["name"],
                condition=_compile(name, spec["name"], spec["condition"]),
                assignments=dict(spec.get("assignments", {})),
                mode=spec.get("mode", RULE_SET),
            )
        )
    used = set().union(*(value_maps_used(f.steps) for f in compiled_fields))
    missing = sorted(used - set(value_maps))
    if missing:
        raise DataError(
            f"mapping set {name!r} uses value map {missing[0]!r}, which does not exist; "
            "add it under Mappings > Value maps",
            field="value_map",
            value=missing[0],
        )
    required = {f.name for f in catalog.fields if f.required} if catalog else set()
    required |= {f.target for f in compiled_fields if f.required}
    return CompiledMapping(
        name=name,
        entity=definition.get("entity", ""),
        target_system=definition.get("target_system", ""),
        operation=definition.get("operation", ""),
        catalog=catalog,
        fields=tuple(compiled_fields),
        rules=tuple(compiled_rules),
        value_maps={n: value_maps[n] for n in used},
        key=key,
        required=tuple(sorted(required)),
    )


def _compile(set_name: str, target: str, expression: str) -> Getter | None:
    if not expression:
        return None
    try:
        return compile_expression(expression)
    except ExpressionError as exc:
        raise DataError(
            f"mapping set {set_name!r}, {target}: {exc}", field=target, value=expression
        ) from None


def _chain(set_name: str, target: str, chain: str) -> tuple[Step, ...]:
    try:
        return parse_chain(chain)
    except ChainError as exc:
        raise DataError(
            f"mapping set {set_name!r}, {target}: transforms {chain!r}: {exc}",
            field=target,
            value=chain,
        ) from None


# --- the compile cache ------------------------------------------------------------------------

_cache: dict[int, tuple[tuple, CompiledMapping]] = {}
_cache_lock = threading.Lock()
# How many times a set was compiled in this process (tests assert compile-once with it).
compile_counter = {"count": 0}


def compiled_for(mapping_set: Any) -> CompiledMapping:
    """The compiled plan of a MappingSet, compiled again only when the set changed."""
    key = (mapping_set.pk, mapping_set.version, mapping_set.updated_at)
    hit = _cache.get(mapping_set.pk)
    if hit is not None and hit[0] == key:
        return hit[1]
    from mappings.serialization import compile_inputs  # the models, only when compiling

    definition, value_maps, catalog = compile_inputs(mapping_set)
    compiled = compile_definition(definition, value_maps=value_maps, catalog=catalog, key=key)
    with _cache_lock:
        _cache[mapping_set.pk] = (key, compiled)
        compile_counter["count"] += 1
    return compiled


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def active_mapping(*, integration_id: int, entity: str, target_system: str = "") -> CompiledMapping:
    """The compiled active mapping set of an integration for one entity (one small query)."""
    from mappings.models import MappingSet

    candidates = MappingSet.objects.filter(
        integration_id=integration_id, entity=entity, active=True
    )
    if target_system:
        candidates = candidates.filter(target_system=target_system)
    found = candidates.order_by("-updated_at").first()
    if found is None:
        raise PermanentError(
            f"No active mapping set for {entity} on integration {integration_id}; promote one "
            "under Mappings > Mapping sets (or run manage.py install_default_mappings)",
            field="mapping_set",
            value=entity,
        )
    return compiled_for(found)


# --- map ------------------------------------------------------------------------------------


def document_data(document: Any) -> Any:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json")
    return document


def line_documents(order: Any) -> list[dict[str, Any]]:
    """Each order line as a document of its own, with the order header under `order`."""
    data = document_data(order)
    header = {k: v for k, v in data.items() if k != "lines"}
    return [{**line, "order": header} for line in data.get("lines") or ()]


def map_document(
    compiled: CompiledMapping,
    document: Any,
    *,
    context: Mapping[str, Any] | None = None,
    rates: RateLookup | None = None,
) -> dict[str, Any]:
    """The target payload for one document, or a MappingFailed listing every violation."""
    payload, violations = evaluate(compiled, document, context=context, rates=rates)
    if violations:
        raise failure(compiled, violations)
    return payload


def map_lines(
    compiled: CompiledMapping,
    order: Any,
    *,
    context: Mapping[str, Any] | None = None,
    rates: RateLookup | None = None,
) -> list[dict[str, Any]]:
    """Every line's payload, or one MappingFailed naming the line of each violation."""
    payloads, violations = [], []
    for number, line in enumerate(line_documents(order), start=1):
        payload, problems = evaluate(compiled, line, context=context, rates=rates)
        payloads.append(payload)
        violations.extend(
            Violation(v.field, v.value, v.rule, f"line {number}: {v.message}") for v in problems
        )
    if violations:
        raise failure(compiled, violations)
    return payloads


def failure(compiled: CompiledMapping, violations: list[Violation]) -> MappingFailed:
    count = len(violations)
    first = violations[0]
    return MappingFailed(
        f"{compiled.name}: {count} problem{'s' if count > 1 else ''}: "
        + "; ".join(v.message for v in violations),
        field=first.field,
        value=first.value,
        violations=violations,
        details={"mapping_set": compiled.name, "violations": [v.as_dict() for v in violations]},
    )


def evaluate(
    compiled: CompiledMapping,
    document: Any,
    *,
    context: Mapping[str, Any] | None = None,
    rates: RateLookup | None = None,
) -> tuple[dict[str, Any], list[Violation]]:
    """The payload and the violations, without raising (what preview shows side by side)."""
    data = document_data(document)
    if context is not None and isinstance(data, dict):
        data = {**data, "context": dict(context)}
    if rates is None:
        from mappings.rates import DatabaseRates

        rates = DatabaseRates()
    ctx = TransformContext(document=data, value_maps=compiled.value_maps, rates=rates)
    payload: dict[str, Any] = {}
    violations: list[Violation] = []
    failed: set[str] = set()
    for spec in compiled.fields:
        try:
            if spec.condition is not None and not truthy(spec.condition(data)):
                continue
            value = spec.getter(data) if spec.getter is not None else None
        except JMESPathError as exc:
            violations.append(
                Violation(spec.target, spec.source, "expression", f"{spec.target}: {exc}")
            )
            failed.add(spec.target)
            continue
        if value in EMPTY and spec.default:
            value = spec.default
        ctx.field, ctx.target = spec.target, spec.catalog_field
        try:
            value = run_chain(spec.steps, value, ctx)
        except DataError as exc:
            rule = (exc.details or {}).get("rule", "transform")
            violations.append(Violation(spec.target, _shown(exc.value), rule, exc.message))
            failed.add(spec.target)
            continue
        if value is not None and value != []:
            payload[spec.target] = value
    for rule in compiled.rules:
        try:
            applies = truthy(rule.condition(data))
        except JMESPathError as exc:
            violations.append(Violation(rule.name, "", "rule", f"rule {rule.name!r}: {exc}"))
            continue
        if applies:
            for target, value in rule.assignments.items():
                if rule.mode == RULE_SET or payload.get(target) in EMPTY:
                    payload[target] = value
                    failed.discard(target)
    violations.extend(check_payload(compiled, payload, skip=failed))
    return payload, violations


def check_payload(
    compiled: CompiledMapping, payload: dict[str, Any], *, skip: Iterable[str] = ()
) -> list[Violation]:
    """Check (and coerce, in place) every value against the catalog; list the violations."""
    skipped = set(skip)
    violations = []
    for name in compiled.required:
        if name not in skipped and payload.get(name) in EMPTY:
            violations.append(Violation(name, "", "required", f"{name}: required, but empty"))
    catalog = compiled.catalog
    if catalog is None:
        return violations
    for name, value in payload.items():
        target = catalog.get(name)
        if target is None or value in EMPTY:
            continue
        coerced, problem = check_value(target, value)
        if problem:
            violations.append(Violation(name, quote(value), problem[0], f"{name}: {problem[1]}"))
        else:
            payload[name] = coerced
    return violations


def check_value(target: TargetField, value: Any) -> tuple[Any, tuple[str, str] | None]:
    """(the value in the field's type, None) or (value, (rule, message))."""
    shown = quote(value)
    coerced: Any
    if isinstance(value, (dict, list)):
        return value, ("type", f"value {shown} is a {type(value).__name__}, not one value")
    kind = target.type
    if kind == FieldType.STRING:
        if isinstance(value, bool):
            return value, ("type", f"value {shown} is true/false, the field takes text")
        if isinstance(value, Decimal):
            coerced = format(value, "f")
        elif isinstance(value, (date, datetime)):
            coerced = value.isoformat()
        else:
            coerced = str(value)
        if target.max_length and len(coerced) > target.max_length:
            return value, (
                "max_length",
                f"value {quote(coerced)} is {len(coerced)} long, the limit is {target.max_length}",
            )
    elif kind in (FieldType.NUMBER, FieldType.INTEGER):
        number = _number(value)
        if number is None:
            return value, ("type", f"value {shown} is not a number")
        if kind == FieldType.INTEGER:
            if number != number.to_integral_value():
                return value, ("type", f"value {shown} is not a whole number")
            coerced = int(number)
        else:
            coerced = number
            normal = number.normalize()
            decimals = max(0, -normal.as_tuple().exponent)
            if target.decimals is not None and decimals > target.decimals:
                return value, (
                    "decimals",
                    f"value {shown} has {decimals} decimals, the limit is {target.decimals}",
                )
        digits = len(str(abs(int(number))).lstrip("0")) + (
            0 if kind == FieldType.INTEGER else max(0, -number.normalize().as_tuple().exponent)
        )
        if target.max_length and digits > target.max_length:
            return value, (
                "max_length",
                f"value {shown} has {digits} digits, the limit is {target.max_length}",
            )
    elif kind in (FieldType.DATE, FieldType.DATETIME):
        coerced = _when(value, want_datetime=kind == FieldType.DATETIME)
        if coerced is None:
            return value, ("type", f"value {shown} is not a {kind}")
    elif kind == FieldType.BOOLEAN:
        coerced = _boolean(value)
        if coerced is None:
            return value, ("type", f"value {shown} is not true/false")
    else:
        coerced = value
    if target.allowed_values and str(_plain(coerced)) not in target.allowed_values:
        return value, (
            "allowed_values",
            f"value {shown} is not allowed; allowed: {', '.join(target.allowed_values)}",
        )
    return coerced, None


def truthy(value: Any) -> bool:
    """JMESPath truth: false, null, '', [] and {} are false; 0 is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, (str, list, dict)) and not value)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else quote(value)


def _plain(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, (str, float)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _when(value: Any, *, want_datetime: bool) -> date | datetime | None:
    if isinstance(value, datetime):
        return value if want_datetime else value.date()
    if isinstance(value, date):
        return None if want_datetime else value
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            if len(text) == 8 and text.isdigit():
                try:
                    parsed = datetime.strptime(text, "%Y%m%d")
                except ValueError:
                    return None
            else:
                return None
        return parsed if want_datetime else parsed.date()
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    return None
