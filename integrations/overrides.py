"""An operator's one-field override of a record's outgoing document, kept on the record.

Which document: the OUTGOING one (what transform produced and load sends: SyncRecord.payload_out),
not the canonical shop document. Why:
- what a person fixes is what the target refused: "M3 says item SIM-0003 does not exist" names
  a field of the payload (lines.1.ITNO), and the record page shows that payload as "Out";
- the canonical document is read fresh from the shop at every extract and feeds item look-ups,
  customer links and stock checks; changing it would silently change those too;
- validation still runs on the overridden payload (the hook sits after transform and before
  validate), and the value is checked against the target's field catalog like a mapped one.
What it cannot fix: a record that stops inside transform (no ERP item for a SKU, a mapping
error) has no outgoing document yet; those are fixed in the mappings, then retried.

Lifetime: an override stays active until the record succeeds (or ends skipped), not for one
attempt only. A retry with an override may fail transiently (a timeout at load) and be retried
by the engine on its own: dropping the override then would send the refused value again. Once
the record finishes, the active override is cleared (a "cleared" event is added to the history),
so a record re-opened later (a new shop event) is never sent with a stale value.

Kept in SyncRecord.context["override"] (no column: the engine carries context between attempts):

    active   {path: {value, old_value, user, reason, at}}   applied by every attempt
    history  [{event: set|cleared, field, old_value, value, user, reason, at}]   append-only
    used     [{attempt, at, fields: {path: value}}]          which attempt applied what

Paths are dotted, list positions counted from 0: "head.WHLO", "lines.1.ITNO".
"""

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from connectors.errors import DataError

KEY = "override"
# Events in the history.
SET, CLEARED = "set", "cleared"

_PART = re.compile(r"[^.\[\]]+")


class PathError(LookupError):
    """The path does not lead to a value of the document; the message says where it stops."""


def split_path(path: str) -> list[str | int]:
    """ "lines.1.ITNO" (or "lines[1].ITNO") -> ["lines", 1, "ITNO"]."""
    parts: list[str | int] = []
    for part in _PART.findall(path or ""):
        parts.append(int(part) if part.isdigit() else part)
    if not parts:
        raise PathError(f"{path!r} is not a field path (e.g. head.WHLO or lines.0.ITNO)")
    return parts


def value_at(document: Any, path: str) -> Any:
    """The value at `path`; PathError names the first part the document does not have."""
    current = document
    walked: list[str] = []
    for part in split_path(path):
        in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
        else:
            where = ".".join(walked) or "the document"
            raise PathError(f"{where} has no {part!r}")
        walked.append(str(part))
    return current


def set_at(document: Any, path: str, value: Any) -> None:
    """Replace the value at an existing `path` (in place); PathError if it does not exist."""
    parts = split_path(path)
    value_at(document, path)  # it must exist: an override replaces, never adds
    parent = document
    for part in parts[:-1]:
        parent = parent[part]
    parent[parts[-1]] = value


def leaf_paths(document: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every single value of the document with its path (what an override may replace)."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from leaf_paths(value, f"{prefix}{key}.")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from leaf_paths(value, f"{prefix}{index}.")
    elif prefix:
        yield prefix[:-1], document


def storable(value: Any) -> Any:
    """JSON for the context: decimals and dates as text (the engine turns them back)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def like(existing: Any, value: Any) -> Any:
    """`value` in the type the live document holds at that place (a Decimal stays a Decimal),
    so the connector sends it exactly as it would have sent a mapped value."""
    if value is None or isinstance(existing, str) or existing is None:
        return value
    try:
        if isinstance(existing, bool):
            return str(value).strip().lower() in ("1", "true", "yes")
        if isinstance(existing, Decimal):
            return Decimal(str(value))
        if isinstance(existing, int):
            return int(Decimal(str(value)))
        if isinstance(existing, float):
            return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return value
    return value


def state_of(context: dict[str, Any] | None) -> dict[str, Any]:
    """The override part of a record's context, with its three keys (a copy)."""
    raw = (context or {}).get(KEY) or {}
    return {
        "active": dict(raw.get("active") or {}),
        "history": list(raw.get("history") or []),
        "used": list(raw.get("used") or []),
    }


def overrides_apply(state: dict[str, Any], payload: Any, *, attempt: int) -> Any:
    """Apply every active override to the freshly transformed payload (the pipeline's hook),
    noting on the record which attempt used which values."""
    override = state.get(KEY) or {}
    active = override.get("active") or {}
    if not active:
        return payload
    for path, entry in active.items():
        try:
            existing = value_at(payload, path)
        except PathError as error:
            raise DataError(
                f"override of {path}: the outgoing document no longer has this field ({error}). "
                "Resolution: retry with an override of the field as it is now named, or resolve "
                "the record",
                field=path,
                value=entry.get("value"),
            ) from None
        set_at(payload, path, like(existing, entry.get("value")))
    used = list(override.get("used") or [])
    used.append(
        {
            "attempt": attempt,
            "at": timezone.now().isoformat(),
            "fields": {path: entry.get("value") for path, entry in active.items()},
        }
    )
    state[KEY] = {**override, "used": used}
    return payload


def overrides_settle(state: dict[str, Any], *, attempt: int, outcome: str) -> None:
    """The record finished: its active overrides are done with (kept in the history)."""
    override = state.get(KEY) or {}
    active = override.get("active") or {}
    if not active:
        return
    now = timezone.now().isoformat()
    history = list(override.get("history") or [])
    for path, entry in active.items():
        history.append(
            {
                "event": CLEARED,
                "field": path,
                "old_value": entry.get("old_value"),
                "value": entry.get("value"),
                "user": "system",
                "reason": f"record {outcome} on attempt {attempt}",
                "at": now,
            }
        )
    state[KEY] = {**override, "active": {}, "history": history}


def attempt_overrides(context: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    """{attempt number: {path: value}} for the attempts that ran with an override."""
    found: dict[int, dict[str, Any]] = {}
    for entry in state_of(context)["used"]:
        try:
            found.setdefault(int(entry.get("attempt")), {}).update(entry.get("fields") or {})
        except (TypeError, ValueError):
            continue
    return found
