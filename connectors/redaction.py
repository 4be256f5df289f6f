"""One list of what is secret, used for log lines, stored payloads and error text alike.

Two nets: keys whose name says "secret" are masked wherever they appear in a structure, and
every credential value this process has decrypted is registered, so that it is masked in any
text even when it turns up under an innocent name or inside a URL or message.
"""

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"

# Header and field names (lower case) whose values are always secret.
SENSITIVE_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "ws_key",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "webhook-signature",
        "webhook_secret",
        "webhook_secrets",
        "private_key",
        # .ionapi keys: client secret, service-account access and secret keys
        "cs",
        "saak",
        "sask",
    }
)
# Substrings that make a name secret too (e.g. "db_password", "tims_api_key").
SENSITIVE_FRAGMENTS = ("password", "secret", "token", "apikey", "api_key", "authorization")

# Secrets shorter than this are not registered: masking "ab" everywhere would mangle text.
MIN_REGISTERED_LENGTH = 6

_known_secrets: set[str] = set()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None

_INLINE_PATTERNS = (
    # Authorization header values written into text
    re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}"),
    # secret-looking query parameters in URLs
    re.compile(
        r"(?i)([?&](?:ws_key|api_key|apikey|access_token|token|client_secret|password)=)[^&\s#]+"
    ),
)


def is_sensitive_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in SENSITIVE_NAMES or any(part in lowered for part in SENSITIVE_FRAGMENTS)


def register_secret(value: Any) -> None:
    """Remember a secret value (or every string leaf of a structure) for masking in text."""
    global _known_pattern
    new = {v for v in _string_leaves(value) if len(v) >= MIN_REGISTERED_LENGTH}
    if not new:
        return
    with _known_lock:
        if new <= _known_secrets:
            return
        _known_secrets.update(new)
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(_known_secrets, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact_text(text: str) -> str:
    """Mask registered secrets, Authorization values and secret query parameters in text."""
    if not text:
        return text
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _INLINE_PATTERNS[0].sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _INLINE_PATTERNS[1].sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def redact(value: Any) -> Any:
    """A copy of `value` with secret keys masked and secret values masked inside strings."""
    if isinstance(value, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and is_sensitive_name(k) and v not in (None, "")
                else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_headers(headers: Iterable[tuple[str, str]] | dict[str, str]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, dict) else headers
    return {k: (MASK if is_sensitive_name(k) else redact_text(str(v))) for k, v in items}


def truncate(text: str, limit: int = 20_000) -> str:
    """Stored bodies are capped so that one huge response cannot bloat the database."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated, {len(text) - limit} more characters]"


def _string_leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _string_leaves(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from _string_leaves(v)


class RedactingFilter(logging.Filter):
    """Logging filter: renders the message with its arguments, then masks secrets in it.

    Exception text is masked too (the formatted traceback is cached on the record).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  (a broken format string must not lose the line)
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
