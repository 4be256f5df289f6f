"""Anomaly holds before load: an order that looks wrong stops at needs attention, with why.

order_to_cash calls `anomalies_check(integration=..., order=...)` between validate and load.
Each rule that trips raises a DataError (permanent: the record stops at needs attention)
naming the field, the value and the evidence; nothing is dropped or changed silently.

    order_total  total_paid far outside this shop's history: robust z-score (median / MAD) of
                 log(total) over past succeeded orders of the same shop
    quantity     a line quantity far outside that product's history (robust z of log(1+q));
                 the shop's history of all lines when the product has too little
    price        a line's unit price far from the ERP's price for the item, when that price
                 is known (the `erp_prices` argument, line.raw["erp_price"] or
                 order.raw["erp_prices"][sku]); otherwise the check is skipped and the report
                 says so; also skipped when the order's currency is not the ERP's
    duplicate    another order of the same customer with the same lines placed within N
                 minutes (a double click, a re-sent cart)

A stock feed that would empty most of the catalogue is the inventory flow's broken-feed guard
(integrations/services/stock.py: `guard_trips`, `stock_hold_create`, released or discarded
in the admin); it is not re-implemented here, `stock_feed_trips` only points at it.

Options: Integration.options["order_to_cash"]["anomalies"], off unless `enabled` is true
(holding orders is a decision ops take per shop):

    {"enabled": true,              every rule below on unless turned off one by one
     "order_total": true, "quantity": true, "price": true, "duplicate": true,
     "z_threshold": 5.0,           robust z beyond which a total or quantity is held
     "min_history": 20,            past orders needed before totals / quantities are judged
     "history_size": 500,          past records read (newest first)
     "price_tolerance": 0.5,       relative distance from the ERP price that is held (0.5=50%)
     "duplicate_minutes": 30,
     "allow": ["XKBKNABJK"]}       references ops reviewed and let through
"""

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.canonical import Order
from connectors.errors import DataError, PermanentError
from integrations.models import Integration, Status, SyncRecord

FLOW = "order_to_cash"  # the flow's name, not imported: order_to_cash imports this module
RULES = ("order_total", "quantity", "price", "duplicate")
# 0.6745 makes the MAD of a normal sample estimate its standard deviation.
MAD_TO_SIGMA = 0.6745
# Smallest spread (in log units) a history may claim: a shop whose orders were all alike must
# not hold the first that differs by a few euros; 0.25 with z 5 means about x3.5 apart.
MIN_LOG_SCALE = 0.25
# The same for quantities (log of 1 + q), coarser since they are small integers: when most
# past lines were 1, 0.5 with z 5 holds 23 and more, not 5.
MIN_QUANTITY_SCALE = 0.5
# A product needs this many past lines for its own quantity history; else the shop's is used.
MIN_PRODUCT_HISTORY = 8

DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "z_threshold": 5.0,
    "min_history": 20,
    "history_size": 500,
    "price_tolerance": 0.5,
    "duplicate_minutes": 30,
    "allow": [],
    **dict.fromkeys(RULES, True),
}


@dataclass(frozen=True)
class AnomalyOptions:
    enabled: bool
    rules: frozenset[str]
    z_threshold: float
    min_history: int
    history_size: int
    price_tolerance: float
    duplicate_minutes: float
    allow: frozenset[str]

    @classmethod
    def of(cls, integration: Integration) -> "AnomalyOptions":
        raw = integration.flow_options(FLOW).get("anomalies") or {}
        if not isinstance(raw, dict):
            raise _option_error("", raw, "must be an object")
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise _option_error(unknown[0], raw[unknown[0]], f"is unknown; use {_keys()}")
        merged = {**DEFAULTS, **raw}
        numbers = {}
        for key in (
            "z_threshold",
            "min_history",
            "history_size",
            "price_tolerance",
            "duplicate_minutes",
        ):
            try:
                numbers[key] = float(merged[key])
            except (TypeError, ValueError):
                raise _option_error(key, merged[key], "must be a number") from None
            if numbers[key] <= 0:
                raise _option_error(key, merged[key], "must be above 0")
        return cls(
            enabled=bool(merged["enabled"]),
            rules=frozenset(rule for rule in RULES if merged[rule]),
            z_threshold=numbers["z_threshold"],
            min_history=int(numbers["min_history"]),
            history_size=int(numbers["history_size"]),
            price_tolerance=numbers["price_tolerance"],
            duplicate_minutes=numbers["duplicate_minutes"],
            allow=frozenset(str(ref).strip().upper() for ref in merged["allow"] or ()),
        )


def _keys() -> str:
    return ", ".join(DEFAULTS)


def _option_error(key: str, value: Any, problem: str) -> PermanentError:
    name = "order_to_cash.anomalies" + (f".{key}" if key else "")
    return PermanentError(
        f"flow option {name} {problem} (got {value!r}); fix it under Integrations > options",
        field=f"options.{name}",
        value=value,
    )


@dataclass
class AnomalyReport:
    """What was checked and what was skipped, with why (when nothing was held)."""

    checked: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------ the check


def anomalies_check(
    *,
    integration: Integration,
    order: Order | Mapping[str, Any],
    erp_prices: Mapping[str, Decimal | str] | None = None,
    history: Iterable[Mapping[str, Any]] | None = None,
) -> AnomalyReport:
    """Raise DataError for the first rule the order trips; else report what ran.

    `history` (past records as {"status", "source_id", "payload_in"}) is for tests and the
    benchmark; by default it is read from this integration's order_to_cash records.
    """
    options = AnomalyOptions.of(integration)
    report = AnomalyReport()
    if not options.enabled:
        report.skipped["all"] = "anomaly checks are off (order_to_cash.anomalies.enabled)"
        return report
    data = order.model_dump(mode="json") if isinstance(order, Order) else dict(order)
    reference = str(data.get("reference") or "").strip().upper()
    if reference and reference in options.allow:
        report.skipped["all"] = f"reference {reference} is in order_to_cash.anomalies.allow"
        return report
    past = list(history) if history is not None else _history(integration, data, options)
    same_shop = [
        p["payload_in"]
        for p in past
        if p.get("status") == Status.SUCCEEDED
        and isinstance(p.get("payload_in"), Mapping)
        and str(p["payload_in"].get("shop_id")) == str(data.get("shop_id"))
    ]
    checks = (
        # The most specific reason first: a line quantity gone wrong also inflates the total.
        ("duplicate", lambda: _check_duplicate(data, past, options)),
        ("quantity", lambda: _check_quantities(data, same_shop, options)),
        ("price", lambda: _check_prices(integration, data, erp_prices, options)),
        ("order_total", lambda: _check_total(data, same_shop, options)),
    )
    for rule, run in checks:
        if rule not in options.rules:
            report.skipped[rule] = "turned off (order_to_cash.anomalies." + rule + ")"
            continue
        skipped = run()
        if skipped:
            report.skipped[rule] = skipped
        else:
            report.checked.append(rule)
    return report


def _history(
    integration: Integration, data: Mapping[str, Any], options: AnomalyOptions
) -> list[dict[str, Any]]:
    rows = (
        SyncRecord.objects.filter(integration=integration, flow=FLOW, payload_in__isnull=False)
        .exclude(source_id=str(data.get("id") or ""))
        .order_by("-id")
        .values("status", "source_id", "payload_in")[: options.history_size]
    )
    return list(rows)


def _hold(rule: str, message: str, *, field: str, value: Any, data: Mapping, **facts: Any):
    reference = data.get("reference") or data.get("id")
    raise DataError(
        f"anomaly hold ({rule}): {message}. Resolution: check the order; if it is genuine, "
        f"add {reference!r} to flow option order_to_cash.anomalies.allow and retry the "
        "record (or turn the rule off for this integration)",
        field=field,
        value=str(value),
        details={"anomaly": rule, **{k: str(v) for k, v in facts.items()}},
    )


# ------------------------------------------------------------------------------ robust z


def robust_z(
    value: float, history: list[float], *, min_scale: float = MIN_LOG_SCALE
) -> tuple[float, float, float]:
    """(z, median, scale): how many robust standard deviations value lies from the median."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    scale = max(mad / MAD_TO_SIGMA, min_scale)
    return (value - median) / scale, median, scale


def _log(value: Any, *, plus_one: bool = False) -> float | None:
    try:
        number = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    if plus_one:
        return math.log1p(number) if number > -1 else None
    return math.log(number) if number > 0 else None


def _check_total(data: Mapping, shop_orders: list[Mapping], options: AnomalyOptions) -> str:
    history = [x for p in shop_orders if (x := _log(p.get("total_paid"))) is not None]
    if len(history) < options.min_history:
        return (
            f"only {len(history)} past orders of shop {data.get('shop_id')} "
            f"(needs {options.min_history})"
        )
    total = data.get("total_paid")
    value = _log(total)
    if value is None:
        # A zero or negative grand total is itself far outside any shop's history.
        _hold(
            "order_total",
            f"total_paid {total!r} is not a positive amount",
            field="total_paid",
            value=total,
            data=data,
        )
    z, median, _ = robust_z(value, history)
    if abs(z) > options.z_threshold:
        _hold(
            "order_total",
            f"total_paid {total} {data.get('currency', '')} is far outside shop "
            f"{data.get('shop_id')}'s history (median {math.exp(median):.2f}, robust z "
            f"{z:+.1f}, threshold {options.z_threshold:g}, {len(history)} past orders)",
            field="total_paid",
            value=total,
            data=data,
            z=round(z, 2),
            median=round(math.exp(median), 2),
        )
    return ""


def _check_quantities(data: Mapping, shop_orders: list[Mapping], options: AnomalyOptions) -> str:
    per_product: dict[str, list[float]] = {}
    every: list[float] = []
    for past in shop_orders:
        for line in past.get("lines") or ():
            value = _log(line.get("quantity"), plus_one=True)
            if value is None:
                continue
            every.append(value)
            per_product.setdefault(_product_key(line), []).append(value)
    if len(every) < options.min_history:
        return f"only {len(every)} past lines of shop {data.get('shop_id')}"
    for line in data.get("lines") or ():
        value = _log(line.get("quantity"), plus_one=True)
        if value is None:
            continue
        own = per_product.get(_product_key(line), [])
        history, basis = (own, "product") if len(own) >= MIN_PRODUCT_HISTORY else (every, "shop")
        z, median, _ = robust_z(value, history, min_scale=MIN_QUANTITY_SCALE)
        if abs(z) > options.z_threshold:
            number = line.get("line_number")
            _hold(
                "quantity",
                f"line {number} sku {line.get('sku')!r}: quantity {line.get('quantity')} is far "
                f"outside this {basis}'s history (median {math.expm1(median):g}, robust z "
                f"{z:+.1f}, threshold {options.z_threshold:g}, {len(history)} past lines)",
                field=f"lines.{number}.quantity",
                value=line.get("quantity"),
                data=data,
                z=round(z, 2),
                basis=basis,
            )
    return ""


def _product_key(line: Mapping) -> str:
    return str(line.get("sku") or f"{line.get('product_id')}:{line.get('variant_id') or 0}")


def _check_prices(
    integration: Integration,
    data: Mapping,
    erp_prices: Mapping[str, Any] | None,
    options: AnomalyOptions,
) -> str:
    known = dict(erp_prices or {})
    raw_prices = (data.get("raw") or {}).get("erp_prices")
    if isinstance(raw_prices, Mapping):
        known = {**raw_prices, **known}
    compared = 0
    for line in data.get("lines") or ():
        sku = str(line.get("sku") or "")
        erp_price = known.get(sku, (line.get("raw") or {}).get("erp_price"))
        if erp_price in (None, ""):
            continue
        if str(data.get("currency") or "") != integration.base_currency:
            return (
                f"order currency {data.get('currency')} is not the ERP's "
                f"{integration.base_currency}: ERP prices not comparable"
            )
        try:
            erp = Decimal(str(erp_price))
            shop = Decimal(str(line.get("unit_price")))
        except InvalidOperation:
            continue
        if erp <= 0:
            continue
        compared += 1
        distance = abs(shop - erp) / erp
        if distance > Decimal(str(options.price_tolerance)):
            number = line.get("line_number")
            _hold(
                "price",
                f"line {number} sku {sku!r}: unit price {shop} is {distance:.0%} away from the "
                f"ERP's price {erp} (tolerance {options.price_tolerance:.0%})",
                field=f"lines.{number}.unit_price",
                value=shop,
                data=data,
                erp_price=erp,
            )
    if not compared:
        return "no ERP price known for any line on the record or context: price check skipped"
    return ""


def _check_duplicate(data: Mapping, past: list[Mapping], options: AnomalyOptions) -> str:
    placed = _when(data.get("placed_at"))
    email = str((data.get("customer") or {}).get("email") or "").lower()
    if placed is None or not email:
        return "the order has no placed_at or customer e-mail to compare"
    lines = _line_signature(data)
    window = timedelta(minutes=options.duplicate_minutes)
    for row in past:
        other = row.get("payload_in")
        if not isinstance(other, Mapping) or row.get("status") == Status.SKIPPED:
            continue
        if str(row.get("source_id")) == str(data.get("id")) or other.get("id") == data.get("id"):
            continue
        other_email = str((other.get("customer") or {}).get("email") or "").lower()
        other_placed = _when(other.get("placed_at"))
        if other_email != email or other_placed is None or abs(other_placed - placed) > window:
            continue
        if _line_signature(other) == lines:
            minutes = abs(other_placed - placed).total_seconds() / 60
            _hold(
                "duplicate",
                f"order {data.get('reference')} repeats order {other.get('reference')} (id "
                f"{other.get('id')}) of {email}: the same {len(lines)} lines placed "
                f"{minutes:.0f} minutes apart (window {options.duplicate_minutes:g})",
                field="reference",
                value=data.get("reference"),
                data=data,
                duplicate_of=other.get("id"),
            )
    return ""


def _line_signature(data: Mapping) -> Counter:
    signature: Counter = Counter()
    for line in data.get("lines") or ():
        try:
            quantity = Decimal(str(line.get("quantity"))).normalize()
        except InvalidOperation:
            quantity = str(line.get("quantity"))
        signature[(_product_key(line), str(quantity))] += 1
    return signature


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


# ------------------------------------------------------------------------------ stock


def stock_feed_trips(*, plan: Any, catalogue_size: int, options: Any) -> bool:
    """The broken stock-feed guard is the inventory flow's, not a second copy: see
    integrations.services.stock.guard_trips (hold_min_items / hold_ratio options)."""
    from integrations.services.stock import guard_trips

    return guard_trips(plan, catalogue_size=catalogue_size, options=options)


# ------------------------------------------------------------------------------ demo


def assistant_demo_seed(*, integration: Integration) -> dict[str, Any]:
    """For the demo: one mapping suggestion and one held anomaly on `integration`.

    * a draft M3 order-head set without CUOR (mappings.suggestions.suggestion_demo_seed);
      its Suggest page proposes `reference` first;
    * anomaly checks turned on for the integration (options.order_to_cash.anomalies.enabled),
      30 past succeeded orders of shop 1 around 60 EUR, then an order of 9,800 EUR checked
      by the real anomalies_check and stored at needs attention with the hold's message.

    Idempotent (keyed records); returns the set, the suggestion and the held record's id.
    """
    from mappings.suggestions import suggestion_demo_seed

    suggestion = suggestion_demo_seed(integration=integration)
    options = dict(integration.options or {})
    flow = dict(options.get(FLOW) or {})
    flow["anomalies"] = {**(flow.get("anomalies") or {}), "enabled": True}
    options[FLOW] = flow
    integration.options = options
    integration.save(update_fields=["options", "updated_at"])
    for n in range(1, 31):
        total = f"{45 + (n * 7) % 30}.90"
        SyncRecord.objects.get_or_create(
            integration=integration,
            flow=FLOW,
            idempotency_key=f"assistant-demo:history:{n}",
            defaults={
                "direction": "shop_to_erp",
                "source_system": "prestashop",
                "source_id": f"demo-{n}",
                "reference": f"DEMOHIST{n:02d}",
                "status": Status.SUCCEEDED,
                "payload_in": _demo_order(n, total=total, email=f"demo{n}@example.com"),
            },
        )
    outlier = _demo_order(99, total="9800.00")
    held = None
    try:
        anomalies_check(integration=integration, order=outlier)
    except DataError as exc:
        held, _ = SyncRecord.objects.update_or_create(
            integration=integration,
            flow=FLOW,
            idempotency_key="assistant-demo:held",
            defaults={
                "direction": "shop_to_erp",
                "source_system": "prestashop",
                "source_id": "demo-99",
                "reference": outlier["reference"],
                "status": Status.NEEDS_ATTENTION,
                "step": "validate",
                "payload_in": outlier,
                "error_class": type(exc).__name__,
                "error_message": exc.message,
                "error_field": exc.field,
                "error_value": str(exc.value),
            },
        )
    return {**suggestion, "held_record": held.pk if held else None}


def _demo_order(n: int, *, total: str, email: str = "demo@example.com") -> dict[str, Any]:
    return {
        "id": f"demo-{n}",
        "reference": f"DEMO{n:05d}",
        "state": "2",
        "shop_id": "1",
        "currency": "EUR",
        "customer": {"email": email, "first_name": "Demo", "last_name": "Shopper"},
        "lines": [
            {"line_number": 1, "sku": "DEMO-1", "quantity": "1", "unit_price": total},
        ],
        "total_paid": total,
        "placed_at": f"2026-11-{1 + n % 20:02d}T10:00:00+00:00",
    }
