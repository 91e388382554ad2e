"""Handshake durations per socket type: plain bucket counts, read at every scrape.

The tracking wrappers time each handshake and add it to its type's
``HandshakeTimes``: one integer and one float, no lock, on the event loop's
thread (as ``metrics.frames`` counts frames). ``HandshakeCollector`` turns
them into ``vidai_websocket_handshake_duration_seconds`` when ``/metrics`` is
scraped. In multiprocess mode the worker's refresh thread copies what they
gained into its files (``metrics.multiprocess.worker_files``), so the merged
histogram is at most one refresh interval behind.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .instruments import HANDSHAKE, HANDSHAKE_BUCKETS, bucket_label
from .per_type import PerType

__all__ = ["HANDSHAKE_HELP", "HandshakeCollector", "HandshakeTable", "HandshakeTimes"]

HANDSHAKE_HELP = "Time from a WebSocket handshake's arrival to its accept or refusal."

# The ``le`` label of each bucket, +Inf last.
BUCKET_LABELS = (*(bucket_label(bound) for bound in HANDSHAKE_BUCKETS), "+Inf")


class HandshakeTimes:
    """One socket type's handshakes: how many fell in each bucket, and their total time.

    >>> times = HandshakeTimes()
    >>> times.observe(0.003)
    >>> times.cumulative()[:3]
    [('0.001', 0), ('0.0025', 0), ('0.005', 1)]
    """

    __slots__ = ("in_bucket", "seconds")

    def __init__(self) -> None:
        self.in_bucket = [0] * len(BUCKET_LABELS)
        """Handshakes per bucket, not cumulative: index i counts bound[i-1] < t <= bound[i]."""
        self.seconds = 0.0

    def observe(self, seconds: float) -> None:
        """Count one handshake that took ``seconds``."""
        self.in_bucket[bisect_left(HANDSHAKE_BUCKETS, seconds)] += 1
        self.seconds += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """Return ``(le, handshakes <= le)`` pairs, +Inf last, as a histogram exposes them."""
        running = 0
        buckets = []
        for label, count in zip(BUCKET_LABELS, list(self.in_bucket), strict=True):
            running += count
            buckets.append((label, running))
        return buckets


class HandshakeTable(PerType[HandshakeTimes]):
    """Every type's ``HandshakeTimes``, in the order the types were first used."""

    def __init__(self) -> None:
        super().__init__(HandshakeTimes)


def handshake_family() -> HistogramMetricFamily:
    """An empty ``vidai_websocket_handshake_duration_seconds`` family, labelled by type."""
    return HistogramMetricFamily(HANDSHAKE, HANDSHAKE_HELP, labels=["type"])


class HandshakeCollector(Collector):
    """Yield the handshake duration histogram of a ``HandshakeTable``, read at scrape time.

    Like the frame counters it carries no ``_created`` series: its start is the process's.

    >>> from prometheus_client import CollectorRegistry
    >>> table = HandshakeTable()
    >>> registry = CollectorRegistry()
    >>> registry.register(HandshakeCollector(table))
    >>> table.counts("call").observe(0.02)
    >>> registry.get_sample_value(HANDSHAKE + "_bucket", {"type": "call", "le": "0.025"})
    1.0
    """

    def __init__(self, table: HandshakeTable) -> None:
        self._table = table

    def describe(self) -> Iterator[Metric]:
        # The name only, so that a restricted registry (?name[]=) finds this collector.
        yield handshake_family()

    def collect(self) -> Iterator[Metric]:
        family = handshake_family()
        for socket_type, times in self._table.items():
            # The sum first: observe() adds to it last, so the sum never holds a
            # handshake that the buckets (and the count) miss.
            seconds = times.seconds
            buckets = [(le, float(n)) for le, n in times.cumulative()]
            family.add_metric([socket_type], buckets, sum_value=seconds)
        yield family
