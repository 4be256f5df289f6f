"""Preview and dry run: what a mapping set makes of real records, before it goes live.

`preview` maps one document (a stored record's payload_in, or pasted JSON) and returns the
source, the output and every violation side by side. `dry_run` maps the last N records of
the set's integration and counts how many would fail, and why.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import DataError, PermanentError
from mappings import catalogs
from mappings.engine import (
    CompiledMapping,
    Violation,
    compile_definition,
    compiled_for,
    document_data,
    evaluate,
    line_documents,
)
from mappings.models import Entity, MappingSet
from mappings.selectors import recent_records
from mappings.serialization import ImportProblem, normalize_set, value_maps_of, value_tables
from mappings.transforms import RateLookup

# How many sample failures a dry run keeps per reason.
DRY_RUN_EXAMPLES = 3


@dataclass
class PreviewResult:
    source: Any
    outputs: list[dict[str, Any]] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations and not self.error


def preview(
    mapping_set: MappingSet,
    document: Any,
    *,
    context: Mapping[str, Any] | None = None,
    rates: RateLookup | None = None,
) -> PreviewResult:
    try:
        compiled = compiled_for(mapping_set)
    except PermanentError as exc:
        return PreviewResult(source=document, error=str(exc))
    if context is None:
        context = mapping_set.preview_context or {}
    return preview_compiled(compiled, document, context=context, rates=rates)


def preview_definition(
    definition: Mapping[str, Any],
    document: Any,
    *,
    context: Mapping[str, Any] | None = None,
    rates: RateLookup | None = None,
) -> PreviewResult:
    """Preview a set given as data (unsaved edits from the change form): nothing is saved."""
    try:
        normal = normalize_set(dict(definition))
        compiled = compile_definition(
            normal,
            value_maps=value_tables(value_maps_of([normal])),
            catalog=catalogs.get_catalog(normal["target_system"], normal["operation"]),
        )
    except (DataError, ImportProblem, ValueError, KeyError, TypeError) as exc:
        return PreviewResult(source=document_data(document), error=str(exc))
    if context is None:
        context = normal.get("preview_context") or {}
    return preview_compiled(compiled, document, context=context, rates=rates)


def preview_compiled(
    compiled: CompiledMapping,
    document: Any,
    *,
    context: Mapping[str, Any] | None = None,
    rates: RateLookup | None = None,
) -> PreviewResult:
    source = document_data(document)
    result = PreviewResult(source=source)
    if not isinstance(source, dict):
        result.error = "The document is not a JSON object."
        return result
    if compiled.entity == Entity.ORDER_LINE:
        if not isinstance(source.get("lines"), list):
            result.error = "An order-line mapping needs an order with its lines."
            return result
        documents = line_documents(source)
    else:
        documents = [source]
    for number, doc in enumerate(documents, start=1):
        try:
            payload, problems = evaluate(compiled, doc, context=context, rates=rates)
        except DataError as exc:
            result.error = str(exc)
            return result
        result.outputs.append(payload)
        if len(documents) > 1 or compiled.entity == Entity.ORDER_LINE:
            problems = [
                Violation(v.field, v.value, v.rule, f"line {number}: {v.message}") for v in problems
            ]
        result.violations.extend(problems)
    return result


@dataclass
class DryRunReport:
    total: int = 0
    failed: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        return self.total - self.failed


def dry_run(
    mapping_set: MappingSet,
    *,
    limit: int = 50,
    flow: str = "",
    rates: RateLookup | None = None,
) -> DryRunReport:
    """Map the last `limit` records; nothing is written anywhere."""
    report = DryRunReport()
    compiled = compiled_for(mapping_set)
    context = mapping_set.preview_context or {}
    for record in recent_records(mapping_set, limit=limit, flow=flow):
        report.total += 1
        result = preview_compiled(compiled, record.payload_in, context=context, rates=rates)
        if result.ok:
            continue
        report.failed += 1
        reasons = {_reason(v) for v in result.violations} or {result.error}
        for reason in reasons:
            report.reasons[reason] += 1
            examples = report.examples.setdefault(reason, [])
            if len(examples) < DRY_RUN_EXAMPLES:
                examples.append(record.reference or record.source_id)
    return report


def _reason(violation: Violation) -> str:
    # Group by field and rule, not by value: "CUOR too long" once, however many orders.
    return f"{violation.field}: {violation.rule}"
