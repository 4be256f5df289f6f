"""Mapping suggestions: for a target field nobody has mapped yet, which source field feeds it.

Offline and explainable, no model: every candidate source path (canonical fields, `raw.*`
custom fields, the flow's `context.*` values) found in sampled documents is scored on four
kinds of evidence, each turned into a reason the editor shows:

    name     the target's name and catalog description against the path's words, through the
             synonym tables in mappings/synonyms.py (CUOR ~ reference, ITNO ~ sku…)
    shape    the sampled values against the target's type, length, allowed values and the
             pattern its name implies (EAN-13, e-mail, ISO country / currency, dates, decimals)
    values   where stored records carry both sides (payload_in and payload_out of records this
             set's entity ran for), how often the candidate's value is the value the target got
    history  what other mapping sets (other integrations, templates) map this target from

A small local embedding model was considered and not used: no PyPI package in reach ships
its weights (sentence-transformers and the like download them from a hub at first use, which
the no-network rule forbids), and on 3-4-letter ERP codes (CUOR, ITNO) a general model knows
less than a synonym table does.

Entry points: `mapping_set_suggestions(mapping_set=...)` (the admin's Suggest page),
`field_mapping_accept(...)` (its one-click accept), `evaluate_defaults()` (held-out accuracy
on the shipped default sets; bench/bench_assistant.py), `suggestion_demo_seed()` (the
demo, through integrations.anomalies.assistant_demo_seed).
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from connectors.canonical import Address, Customer, Order, OrderLine, Product, StockLevel
from connectors.catalog import Catalog, FieldType, TargetField
from mappings import catalogs, engine, synonyms
from mappings.models import Entity, FieldMapping, MappingSet
from mappings.selectors import recent_records

# How many suggestions a field shows, and how many stored records are sampled.
TOP_N = 3
SAMPLE_RECORDS = 50
# Weights of the evidence; `values` only counts where records carry both sides.
WEIGHT_NAME = 0.45
WEIGHT_SHAPE = 0.30
WEIGHT_HISTORY = 0.15
WEIGHT_VALUES = 0.25
# Paths nested deeper than this are not offered (raw blobs can be deep).
MAX_DEPTH = 5
# A path's score loses this much per level below the document's top (prefer `email` over
# `addresses[0].email` when both fit).
DEPTH_PENALTY = 0.03
# Mapped by a set of the same operation counts fully; the same field name elsewhere, half.
OTHER_OPERATION_WEIGHT = 0.5

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
DEFAULT_FILES = ("infor_m3", "tims")

# The values order_to_cash passes as `context` (integrations/flows/order_to_cash.py, transform);
# repeated as data because mappings never import integrations.
FLOW_CONTEXT: dict[str, dict[str, str]] = {
    Entity.ORDER_HEADER: {
        "customer_number": "C000123",
        "customer_code": "C000123",
        "order_number": "0",
        "natural_key": "XKBKNABJK",
        "base_currency": "EUR",
    },
    Entity.ORDER_LINE: {
        "customer_number": "C000123",
        "customer_code": "C000123",
        "order_number": "0",
        "natural_key": "XKBKNABJK",
        "base_currency": "EUR",
    },
}

SIMPLE_PATH = re.compile(r"^[A-Za-z_]\w*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Suggestion:
    target_field: str
    source: str
    score: float
    reasons: tuple[str, ...]
    samples: tuple[str, ...] = ()


@dataclass
class Observations:
    """Sampled documents flattened to path → value, each with the target payload if known."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, set[str]] | None] = field(default_factory=list)
    origin: str = "sample documents"

    def values(self, path: str) -> list[Any]:
        return [row.get(path) for row in self.rows if path in row]

    def paths(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)


# --------------------------------------------------------------------------- candidates


def flatten(data: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Scalar leaves of a JSON document by JMESPath (lists of objects through their first)."""
    out: dict[str, Any] = {}
    if not isinstance(data, Mapping) or depth > MAX_DEPTH:
        return out
    for key, value in data.items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            continue  # a key JMESPath would need quoted: not offered
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(flatten(value, path, depth + 1))
        elif isinstance(value, list):
            if value and isinstance(value[0], Mapping):
                out.update(flatten(value[0], f"{path}[0]", depth + 1))
        else:
            out[path] = value
    return out


def entity_documents(entity: str, document: Any) -> list[dict[str, Any]]:
    """The documents a set of this entity maps: one per line for order lines."""
    if entity == Entity.ORDER_LINE:
        data = engine.document_data(document)
        if "lines" in data:
            return engine.line_documents(data)
        return [data]
    return [engine.document_data(document)]


def observe(
    entity: str,
    documents: Iterable[Any],
    *,
    context: Mapping[str, Any] | None = None,
    outputs: Iterable[Any] | None = None,
    origin: str = "sample documents",
) -> Observations:
    context = {**FLOW_CONTEXT.get(entity, {}), **(context or {})}
    flat_context = {f"context.{k}": v for k, v in flatten(context).items()}
    observed = Observations(origin=origin)
    output_list = list(outputs) if outputs is not None else None
    for index, document in enumerate(documents):
        target_values = None
        if output_list is not None and index < len(output_list) and output_list[index]:
            target_values = _target_values(output_list[index])
        for each in entity_documents(entity, document):
            observed.rows.append({**flatten(each), **flat_context})
            observed.outputs.append(target_values)
    return observed


def _target_values(payload: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(value, (Mapping, list)):
                    walk(value)
                elif value not in (None, ""):
                    found.setdefault(str(key), set()).add(_norm(value))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    return found


def _norm(value: Any) -> str:
    text = str(value).strip().upper()
    try:
        number = Decimal(text)
    except ArithmeticError:
        return text
    return format(number.normalize(), "f") if number.is_finite() else text


# --------------------------------------------------------------------------- value shapes

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{6,20}$")


@lru_cache(maxsize=1)
def _iso_codes() -> tuple[frozenset[str], frozenset[str]]:
    import pycountry  # installed with pydantic-extra-types' country and currency types

    countries = frozenset(c.alpha_2 for c in pycountry.countries)
    currencies = frozenset(c.alpha_3 for c in pycountry.currencies)
    return countries, currencies


def ean13_valid(text: str) -> bool:
    if not re.fullmatch(r"\d{13}", text):
        return False
    digits = [int(c) for c in text]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return check == digits[12]


@lru_cache(maxsize=65536)
def value_kind(value: Any) -> str:
    """One word for what a value looks like: empty, bool, int, decimal, date, datetime,
    ean13, email, country, currency, phone, code (short, no spaces) or text."""
    if value is None or value == "":
        return "empty"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, (float, Decimal)):
        return "decimal"
    text = str(value).strip()
    countries, currencies = _iso_codes()
    if _DATETIME.match(text):
        return "datetime"
    if _DATE.match(text):
        return "date"
    if ean13_valid(text):
        return "ean13"
    if _INT.match(text):
        return "int"
    if _DECIMAL.match(text):
        return "decimal"
    if _EMAIL.match(text):
        return "email"
    if len(text) == 2 and text in countries:
        return "country"
    if len(text) == 3 and text in currencies:
        return "currency"
    if _PHONE.match(text) and sum(c.isdigit() for c in text) >= 6:
        return "phone"
    if " " not in text and len(text) <= 20:
        return "code"
    return "text"


# Kind implied by words of the target's name or description, for string targets.
_WORD_KINDS = {
    "country": "country",
    "currency": "currency",
    "email": "email",
    "phone": "phone",
    "ean": "ean13",
    "gtin": "ean13",
    "date": "date",
}
# How well each value kind suits a target type (string targets are handled apart).
_TYPE_FIT: dict[FieldType, dict[str, float]] = {
    FieldType.NUMBER: {"decimal": 1.0, "int": 0.85},
    FieldType.INTEGER: {"int": 1.0, "decimal": 0.3},
    FieldType.DATE: {"date": 1.0, "datetime": 1.0},
    FieldType.DATETIME: {"datetime": 1.0, "date": 0.7},
    FieldType.BOOLEAN: {"bool": 1.0, "int": 0.3},
}


def shape_score(target: TargetField, values: list[Any], words: set[str]) -> tuple[float, str]:
    """0..1 for how well sampled values fit the target, and the reason in words."""
    if not values:
        return 0.0, "no sampled values"
    kinds = Counter(value_kind(v) for v in values)
    present = [v for v in values if value_kind(v) != "empty"]
    filled = len(present) / len(values)
    if not present:
        return 0.0, "always empty in the samples"
    main, count = max(((k, n) for k, n in kinds.items() if k != "empty"), key=lambda kn: kn[1])
    share = count / len(present)
    if target.type in _TYPE_FIT:
        fit = _TYPE_FIT[target.type].get(main, 0.0) * share
        reason = f"{count}/{len(values)} values are {main} for a {target.type} target"
    else:
        implied = {kind for word, kind in _WORD_KINDS.items() if word in words}
        if main in implied:
            fit = 1.0 * share
            reason = f"{count}/{len(values)} values look like {main}, as the target's name says"
        elif implied:
            fit = 0.25 * share
            reason = f"values are {main}, the target expects {', '.join(sorted(implied))}"
        else:
            fit = {"text": 0.8, "code": 0.8, "email": 0.6, "phone": 0.6}.get(main, 0.55) * share
            reason = f"{count}/{len(values)} values are {main}"
        if target.max_length:
            fitting = sum(1 for v in present if len(str(v)) <= target.max_length)
            fit *= 0.4 + 0.6 * fitting / len(present)
            reason += f", {fitting}/{len(present)} within {target.max_length} characters"
    if target.allowed_values:
        allowed = {a.upper() for a in target.allowed_values}
        inside = sum(1 for v in present if str(v).upper() in allowed)
        fit *= 0.3 + 0.7 * inside / len(present)
        reason += f", {inside}/{len(present)} among the allowed values"
    fit *= 0.5 + 0.5 * filled
    if filled < 1:
        reason += f", {len(values) - len(present)} empty"
    return round(fit, 4), reason


# --------------------------------------------------------------------------- names

_SPLIT = re.compile(r"[^a-z0-9]+")


def words_of(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    out = set()
    for word in _SPLIT.split(text):
        if not word or word in synonyms.STOP_WORDS or word.isdigit():
            continue
        out.add(synonyms.WORD_SYNONYMS.get(word, word))
    return out


def _bare(path: str) -> str:
    path = re.sub(r"\[\d+\]", "", path)
    return path.removeprefix("order.")


def name_score(target: TargetField, path: str, *, use_synonyms: bool = True) -> tuple[float, str]:
    bare = _bare(path)
    leaf = bare.rsplit(".", 1)[-1]
    best, reason = 0.0, ""
    if use_synonyms:
        for rank, phrase in enumerate(synonyms.FIELD_SYNONYMS.get(target.name.lower(), ())):
            weight = 1.0 - 0.1 * rank
            if bare == phrase:
                score = weight
            elif "." not in phrase and leaf == phrase:
                score = weight * 0.9
            else:
                continue
            if score > best:
                best, reason = score, f"{target.name} is usually fed by {phrase} (synonym table)"
    target_words = words_of(target.name) | words_of(target.description)
    path_words = words_of(bare.replace("raw.", "").replace("context.", ""))
    if target_words and path_words:
        common = target_words & path_words
        dice = 2 * len(common) / (len(target_words) + len(path_words))
        leaf_hit = words_of(leaf) <= target_words
        score = 0.8 * dice + (0.15 if leaf_hit and common else 0.0)
        if score > best:
            best = score
            reason = f"the words {', '.join(sorted(common))} are in the target's name or meaning"
    return round(min(best, 1.0), 4), reason


# --------------------------------------------------------------------------- ranking


def rank(
    target: TargetField,
    observed: Observations,
    *,
    history: Mapping[str, float] | None = None,
    limit: int = TOP_N,
    use_synonyms: bool = True,
) -> list[Suggestion]:
    """The best `limit` source paths for one target field, each with its reasons."""
    history = history or {}
    history_total = sum(history.values()) or 1.0
    target_words = words_of(target.name) | words_of(target.description)
    scored: list[Suggestion] = []
    for path in observed.paths():
        values = observed.values(path)
        name, name_reason = name_score(target, path, use_synonyms=use_synonyms)
        shape, shape_reason = shape_score(target, values, target_words)
        past = history.get(path, 0.0) / history_total
        agree, compared = _agreement(observed, path, target.name)
        score = WEIGHT_NAME * name + WEIGHT_SHAPE * shape + WEIGHT_HISTORY * past
        if compared:
            score += WEIGHT_VALUES * agree
        score -= DEPTH_PENALTY * _bare(path).count(".")
        reasons = []
        if name_reason:
            reasons.append(f"name ({name:.2f}): {name_reason}")
        reasons.append(f"shape ({shape:.2f}): {shape_reason}")
        if compared:
            reasons.append(
                f"values ({agree:.2f}): equal to what {target.name} received in "
                f"{round(agree * compared)}/{compared} stored records"
            )
        if past:
            reasons.append(
                f"history ({past:.2f}): other mapping sets map {target.name} from {path}"
            )
        samples = tuple(dict.fromkeys(str(v) for v in values if v not in (None, "")))[:3]
        scored.append(Suggestion(target.name, path, round(score, 4), tuple(reasons), samples))
    scored.sort(key=lambda s: (-s.score, len(s.source), s.source))
    return scored[:limit]


def _agreement(observed: Observations, path: str, target_name: str) -> tuple[float, int]:
    compared = hits = 0
    for row, outputs in zip(observed.rows, observed.outputs, strict=True):
        if not outputs or target_name not in outputs or row.get(path) in (None, ""):
            continue
        compared += 1
        hits += _norm(row[path]) in outputs[target_name]
    return (hits / compared if compared else 0.0), compared


# --------------------------------------------------------------------------- for a set


def history_for(
    *, target_system: str, operation: str, target_field: str, exclude_set: int | None = None
) -> dict[str, float]:
    """Sources other mapping sets use for this target field (same operation counts fully)."""
    rows = FieldMapping.objects.filter(
        mapping_set__target_system=target_system, target_field=target_field
    ).exclude(source="")
    if exclude_set is not None:
        rows = rows.exclude(mapping_set_id=exclude_set)
    counts: Counter[str] = Counter()
    for source, row_operation in rows.values_list("source", "mapping_set__operation"):
        if SIMPLE_PATH.match(source):
            counts[source] += 1.0 if row_operation == operation else OTHER_OPERATION_WEIGHT
    return dict(counts)


def observations_for(mapping_set: MappingSet, *, limit: int = SAMPLE_RECORDS) -> Observations:
    """Stored records of the set's integration (any integration for a template), else the
    built-in sample documents of its entity."""
    records = list(recent_records(mapping_set, limit=limit))
    context = mapping_set.preview_context or {}
    if records:
        return observe(
            mapping_set.entity,
            [r.payload_in for r in records],
            context={**context, **_record_context(records[0])},
            outputs=[r.payload_out for r in records],
            origin=f"{len(records)} stored records",
        )
    return observe(mapping_set.entity, sample_documents(mapping_set.entity), context=context)


def _record_context(record: Any) -> dict[str, Any]:
    state = record.context if isinstance(record.context, dict) else {}
    return {k: v for k, v in state.items() if isinstance(v, (str, int))}


def mapping_set_suggestions(
    *, mapping_set: MappingSet, limit: int = TOP_N, fields: Iterable[str] | None = None
) -> tuple[dict[str, list[Suggestion]], str]:
    """Suggestions for each target field of the catalog the set does not map yet, and where
    the sampled values came from."""
    catalog: Catalog | None = mapping_set.catalog
    if catalog is None:
        return {}, "no catalog"
    mapped = set(mapping_set.fields.values_list("target_field", flat=True))
    wanted = set(fields) if fields is not None else None
    observed = observations_for(mapping_set)
    found: dict[str, list[Suggestion]] = {}
    for target in catalog.fields:
        if target.name in mapped or (wanted is not None and target.name not in wanted):
            continue
        history = history_for(
            target_system=mapping_set.target_system,
            operation=mapping_set.operation,
            target_field=target.name,
            exclude_set=mapping_set.pk,
        )
        found[target.name] = rank(target, observed, history=history, limit=limit)
    return found, observed.origin


@transaction.atomic
def field_mapping_accept(
    *, mapping_set: MappingSet, target_field: str, source: str, score: float | None = None
) -> FieldMapping:
    """Create the FieldMapping a suggestion proposes (validated as any admin save is)."""
    position = (mapping_set.fields.aggregate(top=Max("position"))["top"] or 0) + 10
    note = "suggested by the assistant" + (f" (score {score:.2f})" if score is not None else "")
    row = FieldMapping(
        mapping_set=mapping_set,
        target_field=target_field,
        source=source,
        position=position,
        note=note[:255],
    )
    row.full_clean()
    row.save()
    return row


# --------------------------------------------------------------------------- samples


def sample_documents(entity: str) -> list[dict[str, Any]]:
    """Built-in documents for a set with no stored records yet (and for the evaluation)."""
    orders = [order.model_dump(mode="json") for order in _sample_orders()]
    if entity in (Entity.ORDER_HEADER, Entity.ORDER_LINE, Entity.STATUS_BACK):
        return orders
    if entity in (Entity.CUSTOMER,):
        return [order["customer"] for order in orders]
    if entity == Entity.ADDRESS:
        return [order["shipping_address"] for order in orders]
    if entity == Entity.PRODUCT:
        return [p.model_dump(mode="json") for p in _sample_products()]
    if entity == Entity.STOCK:
        return [
            StockLevel(
                sku=p.sku, product_id=p.id, warehouse="100", quantity=Decimal(n), as_of=_T
            ).model_dump(mode="json")
            for n, p in enumerate(_sample_products(), start=3)
        ]
    return orders


_T = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
# first | last | company | e-mail | country | postcode | city | street | language | phone |
# group | currency
_PEOPLE = tuple(
    row.split("|")
    for row in (
        "Ada|Lovelace||ada@example.com|FR|75011|Paris|"
        "12 rue des Ingénieurs|fr|+33142685300|B2C|EUR",
        "Karl|Weber|Weber Technik GmbH|einkauf@weber-technik.de|DE|80331|München|"
        "Sendlinger Straße 7|de|+49897654321|B2B|EUR",
        "Lena|Müller||lena.mueller@example.ch|CH|8001|Zürich|"
        "Bahnhofstrasse 1|de|+41445551234|B2C|CHF",
        "Tom|Baker|Baker & Sons Ltd|orders@bakerandsons.co.uk|GB|SW1A 1AA|London|"
        "10 Downing Street|en|+442071234567|B2B|GBP",
    )
)


def _sample_orders() -> list[Order]:
    orders = []
    for n, person in enumerate(_PEOPLE, start=1):
        first, last, company, email, country, postcode, city, line1, lang, phone, group, cur = (
            person
        )
        address = Address(
            first_name=first,
            last_name=last,
            company=company,
            line1=line1,
            line2="Bâtiment B" if n % 2 else "",
            postcode=postcode,
            city=city,
            country=country,
            phone=phone,
        )
        lines = [
            OrderLine(
                line_number=k,
                product_id=str(10 + k + n),
                variant_id=str(k) if k % 2 else None,
                sku=f"ART-{n}{k:03d}",
                ean=_ean(f"400638133{n}{k:02d}"),
                name=f"Stainless steel bolt M{4 + k} x {20 * k} mm",
                quantity=Decimal(k * n),
                unit_price=Decimal(f"{7 * k + n}.{25 * k % 100:02d}"),
                discount=Decimal("0.00") if k % 2 else Decimal("1.50"),
                tax_rate=Decimal("20.000"),
                raw={"id_order_detail": str(100 * n + k), "product_reference": f"ART-{n}{k:03d}"},
            )
            for k in range(1, 3 + n % 2)
        ]
        orders.append(
            Order(
                id=str(1000 + n),
                reference=["XKBKNABJK", "QWHMZVTPE", "LRNPFDGUX", "BYTQKWEHS"][n - 1],
                state=str(2 + n % 3),
                shop_id=str(1 + n % 2),
                customer=Customer(
                    id=str(40 + n),
                    email=email,
                    first_name=first,
                    last_name=last,
                    company=company,
                    group=group,
                    language=lang,
                    phone=phone,
                    vat_number="DE123456789" if country == "DE" else "",
                    addresses=[address],
                    created_at=_T,
                ),
                billing_address=address,
                shipping_address=address,
                lines=lines,
                currency=cur,
                total_products=Decimal("120.50") * n,
                total_shipping=Decimal("4.90") + n,
                total_tax=Decimal("24.10") * n,
                total_paid=Decimal("149.50") * n,
                payment_method=["ps_wirepayment", "stripe_official", "paypal", "ps_checkpayment"][
                    n - 1
                ],
                carrier=["Colissimo", "DHL Express", "My carrier", "Click and collect"][n - 1],
                placed_at=_T.replace(hour=8 + n),
                note=["Leave at the back door", "", "Call before delivery", "PO 4711-B"][n - 1],
                raw={"id_shop_group": "1", "gift": str(n % 2), "module": "ps_checkout"},
            )
        )
    return orders


def _sample_products() -> list[Product]:
    return [
        Product(
            id=str(20 + n),
            sku=f"ART-{n:04d}",
            ean=_ean(f"400638133{n:03d}"),
            name=f"Hex bolt M{n + 3}",
            description="Zinc plated steel, DIN 933",
            price=Decimal(f"{n}.95"),
            unit="PCE",
            weight=Decimal("0.015") * n,
            updated_at=_T,
        )
        for n in range(1, 5)
    ]


def _ean(first12: str) -> str:
    digits = [int(c) for c in first12[:12].ljust(12, "0")]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


# --------------------------------------------------------------------------- evaluation


def evaluate_defaults(
    *, files: Iterable[str] = DEFAULT_FILES, use_history: bool = True, use_synonyms: bool = True
) -> dict[str, Any]:
    """Held-out accuracy on the shipped default sets.

    Every default FieldMapping whose source is a simple path (e.g. `reference`,
    `addresses[0].city`, `context.customer_number`) is hidden in turn; the suggester ranks
    candidates from the built-in sample documents with the set's own preview context, and the
    history of every *other* default field (never the hidden one). Hit = the hidden source is
    ranked first (top-1) or among the first three (top-3).
    """
    from mappings import serialization  # the import-export format, read without a database

    sets = []
    for name in files:
        data = serialization.load((DEFAULTS_DIR / f"{name}.yaml").read_text())
        sets.extend(data.get("mapping_sets") or ())
    cases: list[dict[str, Any]] = []
    for spec in sets:
        catalog = catalogs.get_catalog(spec["target_system"], spec["operation"])
        if catalog is None:
            continue
        observed = observe(
            spec["entity"],
            sample_documents(spec["entity"]),
            context=spec.get("preview_context") or {},
        )
        for row in spec.get("fields") or ():
            source = str(row.get("source") or "")
            target = catalog.get(row["target"])
            if target is None or not SIMPLE_PATH.match(source):
                continue
            history: Counter[str] = Counter()
            if use_history:
                for other in sets:
                    if other["target_system"] != spec["target_system"]:
                        continue
                    for other_row in other.get("fields") or ():
                        if other_row is row or other_row["target"] != target.name:
                            continue
                        other_source = str(other_row.get("source") or "")
                        if SIMPLE_PATH.match(other_source):
                            same = other["operation"] == spec["operation"]
                            history[other_source] += 1.0 if same else OTHER_OPERATION_WEIGHT
            ranked = rank(target, observed, history=history, limit=TOP_N, use_synonyms=use_synonyms)
            sources = [s.source for s in ranked]
            cases.append(
                {
                    "set": spec["name"],
                    "target": target.name,
                    "expected": source,
                    "ranked": sources,
                    "top1": bool(sources) and sources[0] == source,
                    "top3": source in sources,
                }
            )
    total = len(cases) or 1
    return {
        "cases": len(cases),
        "top1_accuracy": round(sum(c["top1"] for c in cases) / total, 3),
        "top3_accuracy": round(sum(c["top3"] for c in cases) / total, 3),
        "misses": [c for c in cases if not c["top1"]],
    }


# --------------------------------------------------------------------------- demo


def suggestion_demo_seed(*, integration: Any = None) -> dict[str, Any]:
    """For the demo: a draft M3 order-head set with CUOR left unmapped, and its suggestion.

    Installs nothing else; returns {"mapping_set": pk, "suggest_url": ..., "suggestion":
    first suggestion for CUOR}. The held anomaly lives in integrations.anomalies.
    """
    from django.urls import reverse

    catalog = catalogs.get_catalog("infor_m3", "OIS100MI.AddBatchHead")
    name = "Assistant demo: M3 order head without CUOR"
    mapping_set, _ = MappingSet.objects.get_or_create(
        name=name,
        integration=integration,
        defaults={
            "entity": Entity.ORDER_HEADER,
            "target_system": "infor_m3",
            "operation": "OIS100MI.AddBatchHead",
            "description": "Open 'Suggest' to see CUOR proposed from the shop reference.",
            "preview_context": {"customer_number": "C000001"},
        },
    )
    if not mapping_set.fields.exists():
        for position, (target, source) in enumerate(
            (("CUNO", "context.customer_number"), ("ORDT", "placed_at"), ("CUCD", "currency")),
            start=1,
        ):
            FieldMapping.objects.create(
                mapping_set=mapping_set, target_field=target, source=source, position=position
            )
    mapping_set.refresh_from_db()
    suggestion = None
    if catalog is not None:
        found, _ = mapping_set_suggestions(mapping_set=mapping_set, fields=["CUOR"])
        suggestion = found.get("CUOR", [None])[0]
    return {
        "mapping_set": mapping_set.pk,
        "suggest_url": reverse("admin:mappings_mappingset_suggest", args=[mapping_set.pk]),
        "suggestion": suggestion,
    }
