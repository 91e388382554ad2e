"""Reproducible benchmarks of the socket exporter; run ``python -m benchmarks``.

Each benchmark measures the exporter against a baseline run in the same
process and returns ``Result`` rows: a ratio or an absolute figure, checked
against a target. They are not tests: a missed target prints FAIL and the
exit code stays 0 unless ``--strict`` is given.

Every benchmark uses a fresh ``CollectorRegistry`` and an injected
``SocketTracker``, never prometheus_client's global ``REGISTRY``.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

if TYPE_CHECKING:
    from metrics.core.tracker import SocketTracker

__all__ = [
    "SOCKET_TYPES",
    "Result",
    "bootstrap_interval",
    "fresh_tracker",
    "median",
    "time_per_call",
]

# Vidai's five endpoint types, as consultation.routing declares them.
SOCKET_TYPES = ("call", "stt", "stt_room", "stt_sales", "stt_admin")


@dataclass(frozen=True)
class Result:
    """One printed row: a figure, what it was measured against, and its target.

    A row with ``target=None`` is informational: printed, never PASS/FAIL.
    """

    benchmark: str
    measured: str
    baseline: str
    figure: float
    unit: str
    target: float | None

    @property
    def passed(self) -> bool | None:
        """True/False against the target (lower is better), None without one."""
        return None if self.target is None else self.figure <= self.target


def fresh_tracker(types: tuple[str, ...] = SOCKET_TYPES) -> SocketTracker:
    """Return a tracker on a new, private registry."""
    from metrics.core.tracker import SocketTracker  # needs configured Django settings

    return SocketTracker(CollectorRegistry(), types=types)


def time_per_call(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of ``fn``, over ``number`` calls after a full collection."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def median(values: list[float]) -> float:
    """Return the median of ``values``."""
    return statistics.median(values)


def bootstrap_interval(
    values: list[float], *, confidence: float = 0.95, resamples: int = 5_000
) -> tuple[float, float]:
    """Return a percentile-bootstrap confidence interval of the median of ``values``."""
    rng = random.Random(0)  # the same data always gives the same interval
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    return medians[int(tail * resamples)], medians[int((1 - tail) * resamples) - 1]
