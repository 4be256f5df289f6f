"""Transforms: small named functions a field mapping chains, `strip | upper | truncate(20)`.

Adding one is one function and one line:

    @transform("upper", output=str)
    def upper(value, ctx):
        return text(value, ctx).upper()

Each takes the value and a TransformContext (the field being mapped, its catalog entry, the
document, the value maps and the currency rates) plus its own arguments, and returns a value
of its declared `output` type or raises a DataError naming the field and the value
(`ctx.fail`). A chain is parsed once, at save and at compile time: arguments are Python
literals read with `ast.literal_eval`, never evaluated.
"""

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

import phonenumbers
import pycountry

from connectors.catalog import TargetField
from connectors.errors import DataError
from mappings.expressions import ExpressionError, Getter, compile_expression

# Values quoted in messages are cut to this length (as in connectors.canonical).
MAX_QUOTED_VALUE = 80
# Decimals beyond 10^±LIMIT are refused: nothing we send is that large, and Decimal would
# happily spend seconds turning 1E+999999 into an int.
DECIMAL_EXPONENT_LIMIT = 30

Empty = (None, "", [])


class ChainError(ValueError):
    """A transform chain that cannot be used: unknown name, wrong arguments."""


class RateLookup(Protocol):
    def rate(self, day: date, from_currency: str, to_currency: str) -> Decimal | None: ...


@dataclass(frozen=True)
class ValueTable:
    """A value map ready for lookups (compiled from a ValueMap and its entries)."""

    name: str
    entries: Mapping[str, str]
    case_sensitive: bool = False
    has_fallback: bool = False
    fallback: str = ""

    @classmethod
    def build(
        cls,
        name: str,
        entries: Mapping[str, str],
        *,
        case_sensitive: bool = False,
        has_fallback: bool = False,
        fallback: str = "",
    ) -> "ValueTable":
        keyed = entries if case_sensitive else {k.casefold(): v for k, v in entries.items()}
        return cls(name, dict(keyed), case_sensitive, has_fallback, fallback)

    def lookup(self, key: str) -> str | None:
        found = self.entries.get(key if self.case_sensitive else key.casefold())
        if found is None and self.has_fallback:
            return self.fallback
        return found


class NoRates:
    def rate(self, day: date, from_currency: str, to_currency: str) -> Decimal | None:
        return None


class TransformContext:
    """What a transform sees besides its value. One per document, `field` set per field."""

    __slots__ = ("document", "field", "rates", "target", "value_maps")

    def __init__(
        self,
        *,
        document: Any = None,
        field: str = "",
        target: TargetField | None = None,
        value_maps: Mapping[str, ValueTable] | None = None,
        rates: RateLookup | None = None,
    ) -> None:
        self.document = document
        self.field = field
        self.target = target
        self.value_maps = value_maps or {}
        self.rates = rates or NoRates()

    def fail(self, value: Any, reason: str, *, rule: str = "") -> DataError:
        shown = quote(value)
        return DataError(
            f"{self.field}: value {shown} {reason}",
            field=self.field,
            value=shown,
            details={"rule": rule} if rule else None,
        )


@dataclass(frozen=True)
class Transform:
    name: str
    func: Callable[..., Any]
    output: type | tuple[type, ...]
    accepts_empty: bool = False
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    doc: str = ""


@dataclass(frozen=True)
class Step:
    transform: Transform
    arguments: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""


TRANSFORMS: dict[str, Transform] = {}


def transform(
    name: str,
    *,
    output: type | tuple[type, ...],
    accepts_empty: bool = False,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a transform under `name`; `output` is the type it always returns."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        TRANSFORMS[name] = Transform(
            name, func, output, accepts_empty, prepare, inspect.getdoc(func) or ""
        )
        return func

    return register


# --- value coercions shared by the transforms ---------------------------------------------


def quote(value: Any) -> str:
    shown = repr(value.normalize() if isinstance(value, Decimal) and value.is_finite() else value)
    if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
        shown = repr(str(value))
    if len(shown) > MAX_QUOTED_VALUE:
        shown = shown[: MAX_QUOTED_VALUE - 1] + "…"
    return shown


def text(value: Any, ctx: TransformContext) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (Decimal, float)):
        return format(decimal(value, ctx), "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise ctx.fail(value, "is not text", rule="text")


def decimal(value: Any, ctx: TransformContext) -> Decimal:
    if isinstance(value, bool):
        raise ctx.fail(value, "is not a number", rule="number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        cleaned = value.strip().replace(" ", "")
        if cleaned.count(",") == 1 and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")  # a decimal comma, as in "12,50"
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            raise ctx.fail(value, "is not a number", rule="number") from None
    else:
        raise ctx.fail(value, "is not a number", rule="number")
    if not number.is_finite():
        raise ctx.fail(value, "is not a finite number", rule="number")
    if number.is_zero():
        return Decimal(0)
    if abs(number.adjusted()) > DECIMAL_EXPONENT_LIMIT:
        raise ctx.fail(value, "is out of range", rule="number")
    return number


def day(value: Any, ctx: TransformContext) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        candidate = value.strip()
        try:
            return datetime.fromisoformat(candidate).date()
        except ValueError:
            pass
        if len(candidate) == 8 and candidate.isdigit():  # yyyyMMdd, as M3 writes dates
            try:
                return datetime.strptime(candidate, "%Y%m%d").date()
            except ValueError:
                pass
    raise ctx.fail(value, "is not a date (expected ISO 8601, e.g. 2026-11-24)", rule="date")


# --- argument preparation (at parse time) --------------------------------------------------


def _positive_int(name: str, *, optional: bool = True) -> Callable[[dict], dict]:
    def check(arguments: dict[str, Any]) -> dict[str, Any]:
        given = arguments.get(name)
        if given is None and optional:
            return arguments
        if not isinstance(given, int) or isinstance(given, bool) or given < 1:
            raise ChainError(f"{name} must be a whole number of at least 1, not {given!r}")
        return arguments

    return check


def _paths(*names: str) -> Callable[[dict], dict]:
    def compile_paths(arguments: dict[str, Any]) -> dict[str, Any]:
        for name in names:
            given = arguments.get(name)
            if given is None:
                continue
            if not isinstance(given, str):
                raise ChainError(f"{name} must be a JMESPath expression in quotes")
            try:
                arguments[name] = compile_expression(given)
            except ExpressionError as exc:
                raise ChainError(f"{name}: {exc}") from None
        return arguments

    return compile_paths


def _strings(*names: str) -> Callable[[dict], dict]:
    def check(arguments: dict[str, Any]) -> dict[str, Any]:
        for name in names:
            given = arguments.get(name)
            if given is not None and not isinstance(given, str):
                raise ChainError(f"{name} must be text in quotes, not {given!r}")
        return arguments

    return check


def _prepare_regex(arguments: dict[str, Any]) -> dict[str, Any]:
    arguments = _strings("pattern", "replacement")(arguments)
    try:
        arguments["pattern"] = re.compile(arguments["pattern"])
    except re.error as exc:
        raise ChainError(f"pattern {arguments['pattern']!r} is not a valid regex: {exc}") from None
    count = arguments.get("count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ChainError(f"count must be a whole number, not {count!r}")
    return arguments


def _prepare_split(arguments: dict[str, Any]) -> dict[str, Any]:
    arguments = _strings("sep")(arguments)
    if arguments.get("sep") == "":
        raise ChainError("sep must not be empty")
    return arguments


def _prepare_currency(arguments: dict[str, Any]) -> dict[str, Any]:
    target = arguments.get("to")
    if not (isinstance(target, str) and re.fullmatch(r"[A-Z]{3}", target)):
        raise ChainError(f"to must be an ISO 4217 code in quotes such as 'EUR', not {target!r}")
    arguments = _paths("from_path", "date_path")(arguments)
    if arguments.get("places") is not None:
        _positive_int("places")(arguments)
    return arguments


def _prepare_round(arguments: dict[str, Any]) -> dict[str, Any]:
    places = arguments.get("places")
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 12:
        raise ChainError(f"places must be a whole number from 0 to 12, not {places!r}")
    return arguments


def _prepare_item(arguments: dict[str, Any]) -> dict[str, Any]:
    index = arguments.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise ChainError(f"index must be a whole number, not {index!r}")
    return arguments


def _prepare_fit(arguments: dict[str, Any]) -> dict[str, Any]:
    _positive_int("width")(arguments)
    _positive_int("lines")(arguments)
    return arguments


# --- the transforms -------------------------------------------------------------------------


@transform("to_str", output=str)
def to_str(value: Any, ctx: TransformContext) -> str:
    """The value as text (numbers without exponent, dates ISO 8601)."""
    return text(value, ctx)


@transform("to_decimal", output=Decimal)
def to_decimal(value: Any, ctx: TransformContext) -> Decimal:
    """A decimal number from a number or text ("12.50", "12,50")."""
    return decimal(value, ctx)


@transform("to_int", output=int)
def to_int(value: Any, ctx: TransformContext) -> int:
    """A whole number; 2.0 is fine, 2.5 is an error (use round(0) first to round)."""
    number = decimal(value, ctx)
    if number != number.to_integral_value():
        raise ctx.fail(value, "is not a whole number", rule="to_int")
    return int(number)


@transform("round", output=Decimal, prepare=_prepare_round)
def round_(value: Any, ctx: TransformContext, places: int = 2) -> Decimal:
    """Round half up to `places` decimals: round(2)."""
    return decimal(value, ctx).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@transform("truncate", output=str, prepare=_positive_int("length"))
def truncate(value: Any, ctx: TransformContext, length: int | None = None) -> str:
    """Cut text to `length` characters (default: the target field's length)."""
    limit = length or (ctx.target.max_length if ctx.target else None)
    result = text(value, ctx)
    return result[:limit] if limit else result


@transform("upper", output=str)
def upper(value: Any, ctx: TransformContext) -> str:
    """UPPER CASE."""
    return text(value, ctx).upper()


@transform("lower", output=str)
def lower(value: Any, ctx: TransformContext) -> str:
    """lower case."""
    return text(value, ctx).lower()


@transform("strip", output=str)
def strip(value: Any, ctx: TransformContext) -> str:
    """Remove spaces at both ends and collapse runs of whitespace inside."""
    return " ".join(text(value, ctx).split())


@transform("concat", output=str, prepare=_strings("sep"))
def concat(value: Any, ctx: TransformContext, sep: str = " ") -> str:
    """Join a list (e.g. [first_name, last_name]) with `sep`, skipping empty parts."""
    if not isinstance(value, list):
        return text(value, ctx)
    return sep.join(part for part in (text(v, ctx) for v in value if v not in Empty) if part)


@transform("split", output=list, prepare=_prepare_split)
def split(value: Any, ctx: TransformContext, sep: str | None = None, maxsplit: int = -1) -> list:
    """Split text into a list, on `sep` or on whitespace."""
    if not isinstance(maxsplit, int) or isinstance(maxsplit, bool):
        raise ctx.fail(maxsplit, "is not a whole number", rule="split")
    return text(value, ctx).split(sep, maxsplit)


@transform("item", output=str, accepts_empty=True, prepare=_prepare_item)
def item(value: Any, ctx: TransformContext, index: int = 0) -> str:
    """One element of a list as text ('' when there is none): fit_lines() | item(1)."""
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    try:
        chosen = items[index]
    except IndexError:
        return ""
    return "" if chosen in Empty else text(chosen, ctx)


@transform("date_format", output=str, prepare=_strings("format"))
def date_format(value: Any, ctx: TransformContext, format: str = "%Y%m%d") -> str:
    """Write a date with a strftime format; the default yyyyMMdd is what M3 expects."""
    return day(value, ctx).strftime(format)


@transform("iso_country", output=str)
def iso_country(value: Any, ctx: TransformContext) -> str:
    """ISO 3166-1 alpha-2 → alpha-3 (FR → FRA); alpha-3 passes through."""
    code = text(value, ctx).strip().upper()
    country = None
    if len(code) == 2 and code.isalpha():
        country = pycountry.countries.get(alpha_2=code)
    elif len(code) == 3 and code.isalpha():
        country = pycountry.countries.get(alpha_3=code)
    if country is None:
        raise ctx.fail(value, "is not an ISO 3166 country code", rule="iso_country")
    return country.alpha_3


def _prepare_phone(arguments: dict[str, Any]) -> dict[str, Any]:
    return _paths("region_from")(_strings("region")(arguments))


@transform("phone_e164", output=str, prepare=_prepare_phone)
def phone_e164(
    value: Any, ctx: TransformContext, region: str | None = None, region_from: Getter | None = None
) -> str:
    """A phone number in E.164 (+33612345678); national numbers need region='FR' or
    region_from='shipping_address.country'."""
    if region_from is not None:
        found = region_from(ctx.document)
        region = found if isinstance(found, str) else region
    number_text = text(value, ctx)
    try:
        number = phonenumbers.parse(number_text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        raise ctx.fail(value, "is not a phone number", rule="phone_e164") from None
    if not phonenumbers.is_valid_number(number):
        raise ctx.fail(value, "is not a valid phone number", rule="phone_e164")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transform("currency_convert", output=Decimal, prepare=_prepare_currency)
def currency_convert(
    value: Any,
    ctx: TransformContext,
    to: str = "EUR",
    from_path: Getter | None = None,
    date_path: Getter | None = None,
    places: int | None = None,
) -> Decimal:
    """Convert into currency `to` at the rate of the document's date (Currency rates):
    currency_convert('EUR'). The currency and date are read from the document
    (currency / placed_at, or order.currency / order.placed_at on a line)."""
    amount = decimal(value, ctx)
    source = (from_path or _DEFAULT_CURRENCY)(ctx.document)
    if not (isinstance(source, str) and len(source) == 3):
        raise ctx.fail(value, "has no currency to convert from", rule="currency_convert")
    source = source.upper()
    if source != to:
        when = (date_path or _DEFAULT_DATE)(ctx.document)
        if when in Empty:
            raise ctx.fail(value, "has no date to take a rate from", rule="currency_convert")
        on = day(when, ctx)
        rate = ctx.rates.rate(on, source, to)
        if rate is None:
            raise DataError(
                f"{ctx.field}: no currency rate {source}→{to} for {on.isoformat()} "
                f"(value {quote(value)}); add it under Mappings > Currency rates",
                field=ctx.field,
                value=quote(value),
                details={"rule": "currency_convert", "date": on.isoformat(), "pair": source + to},
            )
        amount = amount * rate
    if places is not None:
        amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return amount


_DEFAULT_CURRENCY = compile_expression("currency || order.currency")
_DEFAULT_DATE = compile_expression("placed_at || order.placed_at || issued_at || paid_at || as_of")


@transform("value_map", output=str, prepare=_strings("name"))
def value_map(value: Any, ctx: TransformContext, name: str = "") -> str:
    """Translate through a value map: value_map('carrier_to_modl')."""
    table = ctx.value_maps.get(name)
    if table is None:
        raise ctx.fail(value, f"cannot be mapped: no value map named {name!r}", rule="value_map")
    key = text(value, ctx)
    found = table.lookup(key)
    if found is None:
        raise DataError(
            f"{ctx.field}: value map {name!r} has no entry for {quote(key)}; "
            f"add it under Mappings > Value maps > {name}",
            field=ctx.field,
            value=quote(key),
            details={"rule": "value_map", "value_map": name},
        )
    return found


@transform("default", output=object, accepts_empty=True)
def default(value: Any, ctx: TransformContext, fallback: Any = "") -> Any:
    """Use `fallback` where the value is empty: default('N/A')."""
    return fallback if value in Empty else value


@transform("regex_replace", output=str, prepare=_prepare_regex)
def regex_replace(
    value: Any,
    ctx: TransformContext,
    pattern: re.Pattern | None = None,
    replacement: str = "",
    count: int = 0,
) -> str:
    r"""Replace what a regular expression matches: regex_replace('[^0-9]', '')."""
    if pattern is None:
        return text(value, ctx)
    try:
        return pattern.sub(replacement, text(value, ctx), count=count)
    except re.error as exc:
        raise ctx.fail(value, f"cannot be replaced: {exc}", rule="regex_replace") from None


@transform("fit_lines", output=list, prepare=_prepare_fit)
def fit_lines(
    value: Any, ctx: TransformContext, width: int | None = None, lines: int | None = None
) -> list:
    """Fit address text into lines of the target's length without cutting a word; a list
    (e.g. [line1, line2]) keeps its parts on their own lines where they fit. Pick a line
    with item(n)."""
    limit = width or (ctx.target.max_length if ctx.target else None)
    if not limit:
        raise ctx.fail(value, "cannot be fitted: give a width, e.g. fit_lines(36)", rule="fit")
    parts = value if isinstance(value, list) else [value]
    texts = [" ".join(text(p, ctx).split()) for p in parts if p not in Empty]
    texts = [t for t in texts if t]
    for word in (w for t in texts for w in t.split(" ")):
        if len(word) > limit:
            raise ctx.fail(
                word, f"is one word longer than the line ({limit}); shorten it", rule="fit_lines"
            )
    wrapped = [line for t in texts for line in _wrap(t, limit)]
    if lines and len(wrapped) > lines:
        wrapped = _wrap(" ".join(texts), limit)  # pack the parts together to save lines
        if len(wrapped) > lines:
            raise ctx.fail(
                value,
                f"needs {len(wrapped)} lines of {limit}, the target has {lines}",
                rule="fit_lines",
            )
    return wrapped


def _wrap(line: str, width: int) -> list[str]:
    return textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False) or [""]


# --- chains -----------------------------------------------------------------------------------


def apply(step: Step, value: Any, ctx: TransformContext) -> Any:
    """Run one step; whatever goes wrong becomes a DataError naming field and value."""
    try:
        return step.transform.func(value, ctx, **step.arguments)
    except DataError:
        raise
    except (ValueError, TypeError, ArithmeticError, LookupError) as exc:
        raise ctx.fail(value, f"failed in {step.transform.name}: {exc}", rule=step.text) from exc


def run_chain(steps: tuple[Step, ...], value: Any, ctx: TransformContext) -> Any:
    for step in steps:
        if value in Empty and not step.transform.accepts_empty:
            continue
        value = apply(step, value, ctx)
    return value


def parse_chain(chain: str) -> tuple[Step, ...]:
    """`strip | truncate(20) | value_map('x')` → steps; ChainError says which step is wrong."""
    steps = []
    for number, piece in enumerate(_split_chain(chain or ""), start=1):
        try:
            steps.append(parse_step(piece))
        except ChainError as exc:
            raise ChainError(f"step {number} ({piece.strip()!r}): {exc}") from None
    return tuple(steps)


def parse_step(piece: str) -> Step:
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", piece, re.DOTALL)
    if match is None:
        raise ChainError("write a transform as name or name(arguments)")
    name, argument_text = match.group(1), match.group(2)
    found = TRANSFORMS.get(name)
    if found is None:
        raise ChainError(f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}")
    args, kwargs = _literal_arguments(argument_text or "")
    try:
        bound = inspect.signature(found.func).bind(None, None, *args, **kwargs)
    except TypeError as exc:
        raise ChainError(f"{name}: {exc}") from None
    arguments = dict(list(bound.arguments.items())[2:])
    if found.prepare is not None:
        arguments = found.prepare(arguments)
    return Step(found, arguments, piece.strip())


def value_maps_used(steps: tuple[Step, ...]) -> set[str]:
    return {s.arguments.get("name", "") for s in steps if s.transform.name == "value_map"}


def _literal_arguments(argument_text: str) -> tuple[list[Any], dict[str, Any]]:
    if not argument_text.strip():
        return [], {}
    try:
        call = ast.parse(f"_({argument_text})", mode="eval").body
    except SyntaxError:
        raise ChainError(f"arguments ({argument_text}) are not valid") from None
    if not isinstance(call, ast.Call):
        raise ChainError(f"arguments ({argument_text}) are not valid")
    try:
        args = [ast.literal_eval(node) for node in call.args]
        kwargs = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                raise ChainError("** is not allowed in arguments")
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ChainError(
            f"arguments ({argument_text}) must be plain values: 'text', 12, 1.5, None"
        ) from None
    return args, kwargs


def _split_chain(chain: str) -> list[str]:
    """Split on | outside quotes and brackets (a regex argument may contain |)."""
    pieces, current, depth, quote_char, escaped = [], [], 0, "", False
    for char in chain:
        if quote_char:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote_char:
                quote_char = ""
            continue
        if char in "'\"":
            quote_char = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "|" and depth == 0:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    if len(pieces) == 1 and not pieces[0].strip():
        return []
    empty = [i for i, p in enumerate(pieces, start=1) if not p.strip()]
    if empty:
        raise ChainError(f"step {empty[0]} is empty (two | in a row?)")
    return pieces


def describe_all() -> list[dict[str, str]]:
    """For the admin's help: each transform's call, output type and doc."""
    described = []
    for name, t in sorted(TRANSFORMS.items()):
        parameters = list(inspect.signature(t.func).parameters.values())[2:]
        shown = ", ".join(
            p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
            for p in parameters
        )
        output = t.output.__name__ if isinstance(t.output, type) else str(t.output)
        described.append({"name": name, "call": f"{name}({shown})", "output": output, "doc": t.doc})
    return described
