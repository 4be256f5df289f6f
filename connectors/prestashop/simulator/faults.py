"""Fault knobs: latency, rate limit, injected failures. Settable at construction and while
the simulator runs (plain attributes, read on every request).

PrestaShop itself never answers 429 (reference §6); the rate limit stands for the host's WAF
or proxy in front of it, which is where real shops get one.
"""

import math
import random
import threading
import time
from dataclasses import dataclass, field

# Kinds of injected failure.
ERROR = "error"  # a 5xx with a PrestaShop error body
TIMEOUT = "timeout"  # hang before answering (the request is not processed until then)
TIMEOUT_AFTER_WRITE = "timeout_after_write"  # process, then hang: the answer is lost
DROP = "drop"  # close the connection without an answer
MALFORMED = "malformed"  # a truncated body
RATE_LIMIT = "rate_limit"  # a 429 with Retry-After
KINDS = (ERROR, TIMEOUT, TIMEOUT_AFTER_WRITE, DROP, MALFORMED, RATE_LIMIT)


@dataclass
class ScriptedFault:
    kind: str
    method: str | None = None  # only requests with this method
    resource: str | None = None  # only requests on this resource
    status: int = 503
    retry_after: float = 1.0


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every answer
    jitter: float = 0.0  # plus up to this many seconds, uniformly
    rate_limit: float = 0.0  # requests per second allowed; 0 = unlimited
    error_rate: float = 0.0  # share of requests answered 5xx
    timeout_rate: float = 0.0  # share of requests that hang `timeout_seconds`
    drop_rate: float = 0.0  # share of connections closed without an answer
    malformed_rate: float = 0.0  # share of answers truncated
    timeout_seconds: float = 5.0
    seed: int = 0
    script: list[ScriptedFault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _tokens: float = field(default=0.0, repr=False)
    _updated: float = field(default_factory=time.monotonic, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)
        self._tokens = max(1.0, self.rate_limit)

    def fail_next(
        self,
        kind: str,
        *,
        count: int = 1,
        method: str | None = None,
        resource: str | None = None,
        status: int = 503,
        retry_after: float = 1.0,
    ) -> None:
        """Make the next `count` matching requests fail with `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose one of {', '.join(KINDS)}")
        with self._lock:
            self.script.extend(
                ScriptedFault(kind, method and method.upper(), resource, status, retry_after)
                for _ in range(count)
            )

    def delay(self) -> float:
        if not self.latency and not self.jitter:
            return 0.0
        with self._lock:
            return self.latency + self._rng.uniform(0, self.jitter)

    def pick(self, method: str, resource: str | None) -> ScriptedFault | None:
        """The fault for this request, if any: scripted first, then the rate limit and rates."""
        with self._lock:
            for index, fault in enumerate(self.script):
                if (fault.method in (None, method)) and (fault.resource in (None, resource)):
                    return self.script.pop(index)
            if self.rate_limit > 0:
                now = time.monotonic()
                self._tokens = min(
                    max(1.0, self.rate_limit),
                    self._tokens + (now - self._updated) * self.rate_limit,
                )
                self._updated = now
                if self._tokens < 1:
                    wait = (1 - self._tokens) / self.rate_limit
                    return ScriptedFault(
                        RATE_LIMIT, status=429, retry_after=max(1, math.ceil(wait))
                    )
                self._tokens -= 1
            roll = self._rng.random()
            for kind, rate in (
                (DROP, self.drop_rate),
                (ERROR, self.error_rate),
                (TIMEOUT, self.timeout_rate),
                (MALFORMED, self.malformed_rate),
            ):
                if roll < rate:
                    return ScriptedFault(kind, status=self._rng.choice((500, 502, 503)))
                roll -= rate
        return None
