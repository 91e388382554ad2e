"""Per-user socket cap and per-socket inbound frame rate.

Both are this process's: the cap counts the sockets a user holds here (with
several workers or hosts a user may hold the cap in each); the rate is one
socket's own token bucket.
"""

from __future__ import annotations

import time
from collections import Counter


class SocketsPerUser:
    """Open sockets by user id in one process; the consumers claim and release."""

    def __init__(self) -> None:
        self._open: Counter[object] = Counter()

    def claim(self, user_id: object, cap: int) -> bool:
        """Count one more socket for the user unless that passes ``cap`` (0: no cap)."""
        if cap and self._open[user_id] >= cap:
            return False
        self._open[user_id] += 1
        return True

    def release(self, user_id: object) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]

    def held(self, user_id: object) -> int:
        return self._open[user_id]


# Consumers run on the server's event loop: one thread touches this.
open_sockets = SocketsPerUser()


class FrameRate:
    """A token bucket: ``burst`` frames at once, refilled evenly over ``seconds``."""

    def __init__(self, burst: int, seconds: float, clock: object = time.monotonic) -> None:
        self._burst = float(burst)
        self._per_second = burst / seconds
        self._clock = clock
        self._tokens = float(burst)
        self._last = self._now()

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def allow(self) -> bool:
        """Take a token for one frame; False when the socket is over its rate."""
        now = self._now()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._per_second)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
