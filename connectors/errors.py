"""The error taxonomy every layer above the connectors relies on.

Errors are grouped by what the caller does with them (as in singer-sdk and queue_job):
a TransientError is retried later, a PermanentError stops the record at "needs attention"
with a message an ops person can act on, a SkipRecord ends it as skipped with a reason.
"""

from typing import Any


class ConnectorError(Exception):
    """Base of every error a connector raises. `field` and `value` name what was wrong."""

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        value: Any = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.status_code = status_code
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class TransientError(ConnectorError):
    """Worth retrying later: network errors, timeouts, 5xx, 429. `retry_after` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """The remote system asked us to slow down (HTTP 429)."""


class PermanentError(ConnectorError):
    """Retrying the same input cannot succeed; a person must change data or configuration."""


class AuthError(PermanentError):
    """Credentials are wrong, expired beyond refresh, or lack a permission."""


class NotFoundError(PermanentError):
    """The remote resource does not exist."""


class DataError(PermanentError):
    """A payload or value is malformed or fails validation; `field` and `value` say where."""


class SkipRecord(Exception):
    """Not an error: the record needs no work (e.g. an order state that is never exported)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
