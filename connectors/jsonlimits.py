"""JSON from outside, parsed with a depth limit.

The standard decoder recurses: a body of a few hundred kilobytes of "[[[[…" raises
RecursionError (an unhandled 500 where a 400 belongs), and merely deep documents make every
later walk over them slow. Bodies are size-capped where they are read; this caps nesting.
"""

import json
from typing import Any

# Deepest nesting accepted; real payloads (PrestaShop, M3, TIMS, webhooks) stay under 10.
DEFAULT_MAX_DEPTH = 64


class JSONLimitError(ValueError):
    """Not JSON, or nested deeper than allowed; the message says which."""


def json_depth(value: Any) -> int:
    """How deeply containers nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def json_loads_limited(text: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """json.loads, refusing (JSONLimitError) documents nested deeper than `max_depth`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise JSONLimitError(f"not valid JSON: {exc}") from None
    if json_depth(value) > max_depth:
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels")
    return value
