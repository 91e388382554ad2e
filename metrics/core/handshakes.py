"""Handshake durations per socket type: plain bucket counts, read at every scrape.

The tracking wrappers time each handshake and add it to its type's
``BucketCounts``: one integer and one float, no lock, on the event loop's
thread (as ``metrics.core.frames`` counts frames). ``HandshakeCollector`` turns
them into ``vidai_websocket_handshake_duration_seconds`` when ``/metrics`` is
scraped. In multiprocess mode the worker's refresh thread copies what they
gained into its files (``metrics.multiprocess.worker_files``), so the merged
histogram is at most one refresh interval behind.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..contract import HANDSHAKE, HELP
from .buckets import BucketCounts, add_histogram
from .instruments import HANDSHAKE_BUCKETS
from .per_type import PerType

__all__ = ["HANDSHAKE_HELP", "HandshakeCollector", "HandshakeTable", "handshake_family"]

HANDSHAKE_HELP = HELP[HANDSHAKE]


class HandshakeTable(PerType[BucketCounts]):
    """Every type's handshake durations, in the order the types were first used."""

    def __init__(self) -> None:
        super().__init__(lambda: BucketCounts(HANDSHAKE_BUCKETS))


def handshake_family() -> HistogramMetricFamily:
    """Return an empty ``vidai_websocket_handshake_duration_seconds`` family, by type."""
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
            add_histogram(family, socket_type, times)
        yield family
