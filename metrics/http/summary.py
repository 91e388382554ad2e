"""Open sockets per type and the oldest start, read from a registry's samples.

What the status document and the fleet view summarise, from one process's
samples, every worker's merged files, or Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Metric

from ..core.instruments import CONNECTIONS, OLDEST_START

__all__ = ["SocketSummary", "summarize"]


@dataclass(frozen=True)
class SocketSummary:
    """Open sockets per type, and when the oldest of each started."""

    counts: dict[str, int]
    oldest_start: dict[str, float | None]
    """Unix start time of each type's oldest open socket; None when none is open."""

    @property
    def total(self) -> int:
        """All open sockets."""
        return sum(self.counts.values())

    def active(self, serving: bool) -> bool:
        """Whether the document says "active", given that this instance can serve."""
        return serving

    def oldest_age(self, now: float) -> dict[str, float | None]:
        """Return each type's oldest open socket age in seconds at ``now``."""
        return {
            socket_type: None if start is None else round(max(0.0, now - start), 3)
            for socket_type, start in self.oldest_start.items()
        }


def summarize(registry: CollectorRegistry) -> SocketSummary:
    """Read open counts and oldest start times from ``registry``'s samples.

    Samples of one type from several processes are summed (counts) or take
    the minimum (start times), as Prometheus's ``sum``/``min`` would.
    """
    counts: dict[str, int] = {}
    starts: dict[str, float] = {}
    for family in _socket_families(registry):
        if family.name == CONNECTIONS:
            for sample in family.samples:
                socket_type = sample.labels.get("type", "")
                counts[socket_type] = counts.get(socket_type, 0) + round(sample.value)
        elif family.name == OLDEST_START:
            for sample in family.samples:
                socket_type = sample.labels.get("type", "")
                starts[socket_type] = min(starts.get(socket_type, math.inf), sample.value)
    return SocketSummary(
        counts=counts,
        oldest_start={
            socket_type: None if math.isinf(start := starts.get(socket_type, math.inf)) else start
            for socket_type in counts
        },
    )


def _socket_families(registry: CollectorRegistry) -> Iterable[Metric]:
    # Only the collectors behind the two families: the status JSON is polled
    # far more often than /metrics is scraped, and process collectors read /proc.
    families = list(registry.restricted_registry([CONNECTIONS, OLDEST_START]).collect())
    if any(family.name == CONNECTIONS for family in families):
        return families
    # Collectors that do not describe themselves (multiprocess) need a full collect.
    return registry.collect()
