"""The base HTTP client every connector builds on.

One place classifies failures (as singer-sdk's `validate_response`): a table from status code
to error class, plus timeouts and connection errors. Above this module nobody looks at status
codes: TransientError is retried by the pipeline, PermanentError goes to needs attention.

Only idempotent methods are retried here, and only a few times; a POST (or any call listed as
non-idempotent) is never retried blindly: the flow decides, after looking the result up.
"""

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connectors.errors import (
    AuthError,
    ConnectorError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.ratelimit import TokenBucket
from connectors.redaction import redact_text, truncate
from connectors.validators import UnsafeDestination, request_guard

logger = logging.getLogger(__name__)

# Seconds to wait for a connection / for a response, unless the connection says otherwise.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 60.0
# Sockets kept open per host; workers run records concurrently through one session.
POOL_SIZE = 16
# Retries of idempotent calls inside one record attempt, before the pipeline's own retry.
DEFAULT_SAFE_RETRIES = 2
# Upper bound on one in-client backoff sleep, whatever Retry-After says (longer waits are the
# pipeline's job: it reschedules the record instead of holding a worker).
MAX_INLINE_WAIT = 10.0
# How much of a response body goes into an error message.
ERROR_BODY_LIMIT = 2_000

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# status code -> error class; codes not listed: 5xx transient, other 4xx permanent.
STATUS_ERRORS: dict[int, type[ConnectorError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    408: TransientError,
    409: PermanentError,
    425: TransientError,
    429: RateLimitedError,
}


@dataclass(frozen=True)
class ClientOptions:
    """Per-connection knobs, read from Connection.options."""

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    requests_per_second: float = 0.0
    burst: int | None = None
    safe_retries: int = DEFAULT_SAFE_RETRIES
    page_size: int = 100
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> "ClientOptions":
        options = dict(options or {})
        known = {k: options.pop(k) for k in list(options) if k in cls.__dataclass_fields__}
        known.pop("extra", None)
        return cls(**known, extra=options)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_response(response: requests.Response, *, what: str) -> ConnectorError | None:
    """The error a response stands for, or None when it succeeded."""
    status = response.status_code
    if status < 400:
        return None
    error_class = STATUS_ERRORS.get(status) or (TransientError if status >= 500 else PermanentError)
    body = redact_text(truncate(response.text or "", ERROR_BODY_LIMIT))
    message = f"{what} failed: HTTP {status} {response.reason or ''}".rstrip()
    if body:
        message += f": {body}"
    kwargs: dict[str, Any] = {"status_code": status}
    if issubclass(error_class, TransientError):
        kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
    return error_class(message, **kwargs)


def backoff_delay(
    attempt: int, *, base: float, cap: float, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter; never shorter than the server's Retry-After."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class HttpClient:
    """A pooled requests.Session with timeouts, a rate limit and one error classification.

    Subclasses add auth (override `authenticate`) and the system's own error bodies
    (override `error_from_response`).
    """

    system = "http"

    def __init__(
        self,
        base_url: str,
        *,
        options: ClientOptions | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = options or ClientOptions()
        self.session = session or self._new_session()
        self.limiter = TokenBucket(self.options.requests_per_second, self.options.burst)
        self._sleep = sleep

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # No urllib3 retries: a retry must be a decision of ours (see module docstring).
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def authenticate(self, request_kwargs: dict[str, Any]) -> None:
        """Hook: add credentials to the request (headers, auth, params)."""

    def error_from_response(
        self, response: requests.Response, *, what: str
    ) -> ConnectorError | None:
        """Hook: a system reads its own error bodies; the default uses the status table."""
        return classify_response(response, what=what)

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        what: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; raise a classified ConnectorError on failure.

        `idempotent` defaults to True for GET/HEAD/OPTIONS only; only idempotent calls are
        retried here (transient failures, at most `safe_retries` times, short waits).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in SAFE_METHODS
        what = what or f"{method} {path.split('?')[0]}"
        kwargs.setdefault("timeout", (self.options.connect_timeout, self.options.read_timeout))
        self.authenticate(kwargs)
        retries = self.options.safe_retries if idempotent else 0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, self.url(path), what=what, **kwargs)
            except TransientError as error:
                if attempt > retries:
                    raise
                self._wait(attempt, error.retry_after)
                continue
            error = self.error_from_response(response, what=what)
            if error is None:
                return response
            if isinstance(error, RateLimitedError) and error.retry_after:
                self.limiter.penalise(error.retry_after)
            if not isinstance(error, TransientError) or attempt > retries:
                raise error
            if error.retry_after is not None and error.retry_after > MAX_INLINE_WAIT:
                raise error  # a long wait is rescheduled by the pipeline, not slept here
            self._wait(attempt, error.retry_after)

    def _send(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        try:
            # Again at request time: a name checked when the connection was saved may have
            # been re-pointed since (DNS rebinding); lookups are cached for a minute.
            request_guard.check(url)
        except UnsafeDestination as exc:
            raise PermanentError(f"{what} refused: {exc}", field="base_url") from None
        self.limiter.acquire()
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise TransientError(f"{what} timed out: {redact_text(str(exc))}") from None
        except requests.ConnectionError as exc:
            raise TransientError(f"{what} could not connect: {redact_text(str(exc))}") from None
        except requests.RequestException as exc:
            raise PermanentError(f"{what} could not be sent: {redact_text(str(exc))}") from None
        logger.debug(
            "%s %s -> %s in %.0f ms",
            method,
            redact_text(url),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        delay = backoff_delay(attempt, base=0.5, cap=MAX_INLINE_WAIT, retry_after=retry_after)
        self._sleep(min(delay, MAX_INLINE_WAIT))

    def close(self) -> None:
        self.session.close()
