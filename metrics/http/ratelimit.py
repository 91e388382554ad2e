"""A per-client token bucket for the status JSON, bounded in memory."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RateLimiter:
    """Allow ``requests`` per ``seconds`` per client, with bursts up to ``requests``.

    >>> limiter = RateLimiter(2, 60)
    >>> limiter.retry_after("a"), limiter.retry_after("a"), limiter.retry_after("a") > 0
    (0.0, 0.0, True)
    """

    def __init__(
        self,
        requests: int,
        seconds: float,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if requests < 1 or seconds <= 0:
            raise ValueError("a rate limit needs requests >= 1 and seconds > 0")
        self.requests = requests
        self.rate = requests / seconds
        self._clock = clock
        self._max_clients = max_clients
        self._lock = threading.Lock()
        # client -> (tokens, last refill); least recently seen first, so the
        # oldest client is forgotten when too many are tracked.
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def retry_after(self, client: Hashable) -> float:
        """Take a token for ``client``; return 0 if allowed, else seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.requests), now))
            tokens = min(float(self.requests), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self.rate
