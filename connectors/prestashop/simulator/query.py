"""The Webservice list parameters: display, filter, sort, limit, date (reference §2).

Errors carry PrestaShop's status and code so the server can render them as the shop does.
"""

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.prestashop.simulator.schema import BOOL, BY_NAME, DATE, DEC, ID, INT, LANG

DATE_FIELDS = frozenset({"date_add", "date_upd"})


class QueryError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bracketed(value: str, what: str) -> str:
    if not (value.startswith("[") and value.endswith("]")):
        raise QueryError(400, 32, f'The "{what}" parameter has a bad format: {value!r}')
    return value[1:-1]


def parse_display(resource: str, value: str | None) -> list[str] | str | None:
    """None (ids only), "full", or a list of fields (unknown ones: 400 code 35)."""
    if value is None:
        return None
    if value == "full":
        return "full"
    fields = [f.strip() for f in _bracketed(value, "display").split(",") if f.strip()]
    known = BY_NAME[resource]
    for name in fields:
        if name not in known:
            raise QueryError(
                400,
                35,
                f'Unable to display this field "{name}". However, these are available: '
                + ", ".join(known),
            )
    return fields


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _comparable(kind: str, value: Any) -> Any:
    if kind in (ID, INT, DEC, BOOL):
        number = _number(value)
        return number if number is not None else str(value)
    return str(value)


def parse_filter(resource: str, name: str, expr: str, *, dates: bool) -> Callable[[dict], bool]:
    """A predicate on records for `filter[name]=expr`."""
    field = BY_NAME[resource].get(name)
    if field is None:
        raise QueryError(
            400,
            33,
            f'This filter does not exist: "{name}". Available: ' + ", ".join(BY_NAME[resource]),
        )
    if (name in DATE_FIELDS or field.kind == DATE) and not dates:
        # Date fields are only filterable with date=1 (reference §2).
        raise QueryError(400, 33, f'This filter does not exist: "{name}" (add date=1)')
    kind = field.kind

    def value_of(record: dict) -> Any:
        value = record.get(name)
        if kind == LANG:
            return " ".join(str(v) for v in (value or {}).values())
        return value

    negate = expr.startswith("!")
    if negate:
        expr = expr[1:]
    if expr.startswith(">") or expr.startswith("<"):
        op, bound = expr[0], _comparable(kind, _bracketed(expr[1:], f"filter[{name}]"))

        def compare(record: dict) -> bool:
            value = _comparable(kind, value_of(record))
            try:
                return value > bound if op == ">" else value < bound
            except TypeError:
                return False

        return compare
    like_start = expr.startswith("%")
    like_end = expr.endswith("%")
    if like_start or like_end:
        needle = _bracketed(expr.strip("%"), f"filter[{name}]").lower()

        def like(record: dict) -> bool:
            text = str(value_of(record)).lower()
            if like_start and like_end:
                hit = needle in text
            elif like_start:
                hit = text.endswith(needle)
            else:
                hit = text.startswith(needle)
            return hit != negate

        return like
    inner = _bracketed(expr, f"filter[{name}]")
    if "," in inner and "|" not in inner:
        low, _, high = inner.partition(",")
        low_c, high_c = _comparable(kind, low), _comparable(kind, high)

        def between(record: dict) -> bool:
            value = _comparable(kind, value_of(record))
            try:
                return (low_c <= value <= high_c) != negate  # both ends inclusive (SQL BETWEEN)
            except TypeError:
                return negate

        return between
    wanted = {_comparable(kind, v) for v in inner.split("|")}

    def equals(record: dict) -> bool:
        return (_comparable(kind, value_of(record)) in wanted) != negate

    return equals


def parse_sort(resource: str, value: str, *, dates: bool) -> list[tuple[str, bool]]:
    """[(field, descending)], from `[field_ASC,id_DESC]`."""
    keys = []
    for part in _bracketed(value, "sort").split(","):
        name, _, direction = part.strip().rpartition("_")
        if direction not in ("ASC", "DESC") or name not in BY_NAME[resource]:
            raise QueryError(400, 37, f'Unable to sort on "{part}"')
        if name in DATE_FIELDS and not dates:
            raise QueryError(400, 37, f'Unable to sort on "{part}" (add date=1)')
        keys.append((name, direction == "DESC"))
    return keys


def sort_records(resource: str, records: list[dict], keys: list[tuple[str, bool]]) -> list[dict]:
    fields = BY_NAME[resource]
    for name, descending in reversed(keys):  # stable sorts, last key first
        kind = fields[name].kind
        if kind in (ID, INT, BOOL):
            records.sort(key=lambda r, n=name: r.get(n) or 0, reverse=descending)
        elif kind == DEC:
            records.sort(key=lambda r, n=name: Decimal(r.get(n) or 0), reverse=descending)
        else:
            records.sort(key=lambda r, n=name: str(r.get(n) or ""), reverse=descending)
    return records


def parse_limit(value: str) -> tuple[int, int | None]:
    """(offset, count) from `N` or `offset,count` (MySQL LIMIT)."""
    try:
        if "," in value:
            offset, count = (int(v) for v in value.split(",", 1))
        else:
            offset, count = 0, int(value)
    except ValueError:
        raise QueryError(400, 32, f'The "limit" parameter has a bad format: {value!r}') from None
    if offset < 0 or count < 0:
        raise QueryError(400, 32, f'The "limit" parameter has a bad format: {value!r}')
    return offset, count


def parse_languages(value: str | None) -> list[int] | None:
    if not value:
        return None
    inner = value[1:-1] if value.startswith("[") else value
    try:
        if "," in inner:
            low, high = (int(v) for v in inner.split(","))
            return list(range(low, high + 1))
        return [int(v) for v in inner.split("|")]
    except ValueError:
        raise QueryError(400, 32, f'The "language" parameter has a bad format: {value!r}') from None
