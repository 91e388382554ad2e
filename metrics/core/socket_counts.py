"""Accepts, closes and lifetimes per socket type: plain integers, read at every scrape.

``SocketTracker`` adds to a type's ``TypeCounts`` under its lock, in the same
step that adds the socket to or removes it from the live registry, and
``SocketCountsCollector`` yields the contract's counters and lifetime
histogram from them when ``/metrics`` is scraped: an integer addition per
accept instead of a prometheus_client child's own lock and checks. In
multiprocess mode the tracker's publisher also writes each accept and close
to the worker's files at once (``metrics.multiprocess.worker_files``), so a
killed worker loses none of them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..contract import CLOSED, DURATION, HELP, OPENED
from ..label_values import CLOSE_LABELS
from .buckets import BucketCounts, add_histogram
from .per_type import PerType

__all__ = [
    "CLOSED_HELP",
    "DURATION_HELP",
    "OPENED_HELP",
    "SocketCountsCollector",
    "SocketCountsTable",
    "TypeCounts",
]

OPENED_HELP = HELP[OPENED]
CLOSED_HELP = HELP[CLOSED]
DURATION_HELP = HELP[DURATION]


class TypeCounts:
    """One socket type's accepts, closes by (reason, initiator), and lifetimes."""

    __slots__ = ("closed", "lifetimes", "opened")

    def __init__(self, duration_bounds: tuple[float, ...]) -> None:
        self.opened = 0
        # Every (reason, initiator) pair from the start, so that the first close
        # shows in rate() and increase() (they need a prior sample).
        self.closed = {labels: 0 for labels in CLOSE_LABELS}
        self.lifetimes = BucketCounts(duration_bounds)


class SocketCountsTable(PerType[TypeCounts]):
    """Every type's ``TypeCounts``, in declaration order.

    >>> table = SocketCountsTable((60.0,))
    >>> table.counts("call").opened += 1
    >>> table.counts("call").opened
    1
    """

    def __init__(self, duration_bounds: tuple[float, ...]) -> None:
        super().__init__(lambda: TypeCounts(duration_bounds))


class SocketCountsCollector(Collector):
    """Yield the opened and closed counters and the lifetime histogram, read at scrape time.

    They carry no ``_created`` series: their start is the process's.
    """

    def __init__(self, table: SocketCountsTable) -> None:
        self._table = table

    def describe(self) -> Iterator[Metric]:
        # Names only, so that a restricted registry (?name[]=) finds this collector.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        opened, closed, lifetimes = self._families()
        for socket_type, counts in self._table.items():
            opened.add_metric([socket_type], float(counts.opened))
            for (reason, initiator), count in list(counts.closed.items()):
                closed.add_metric([socket_type, reason, initiator], float(count))
            add_histogram(lifetimes, socket_type, counts.lifetimes)
        yield opened
        yield closed
        yield lifetimes

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, CounterMetricFamily, HistogramMetricFamily]:
        return (
            CounterMetricFamily(OPENED, OPENED_HELP, labels=["type"]),
            CounterMetricFamily(CLOSED, CLOSED_HELP, labels=["type", "reason", "initiator"]),
            HistogramMetricFamily(DURATION, DURATION_HELP, labels=["type"]),
        )
