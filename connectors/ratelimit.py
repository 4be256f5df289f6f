"""A token bucket per connection: calls wait for a token instead of earning a 429."""

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` calls a second on average, bursts of up to `burst`. Thread-safe.

    A rate of 0 or less disables limiting.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is free; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait:
            self._sleep(wait)
        return wait

    def penalise(self, seconds: float) -> None:
        """After a 429 with Retry-After, hold every caller of this connection that long."""
        if self.rate <= 0 or seconds <= 0:
            return
        with self._lock:
            self._tokens = min(self._tokens, 0) - seconds * self.rate
