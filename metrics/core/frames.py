"""Frames and payload bytes per socket type: plain integers, read at every scrape.

The wrapper adds to its type's ``FrameCounts`` on every frame: two integer
additions and no lock, because frames pass through the wrapper on the event
loop's thread (sync consumers' too: ``async_to_sync`` sends through the loop,
and one process serves one loop). ``FrameCollector`` reads them when
``/metrics`` is scraped, so a scrape sees every frame sent or received before
it, whatever the traffic, at the cost of one read per type rather than a walk
over the open sockets. In multiprocess mode the worker's refresh thread copies
them into its files (``metrics.multiprocess.worker_files``).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from ..contract import HELP, MESSAGE_BYTES, MESSAGES
from ..label_values import RECEIVED, SENT
from .per_type import PerType

__all__ = ["FrameCollector", "FrameCounts", "FrameTable"]

MESSAGES_HELP = HELP[MESSAGES]
MESSAGE_BYTES_HELP = HELP[MESSAGE_BYTES]


class FrameCounts:
    """One socket type's frames and payload bytes, both ways, since the process started."""

    __slots__ = ("received", "received_bytes", "sent", "sent_bytes")

    def __init__(self) -> None:
        self.received = self.received_bytes = self.sent = self.sent_bytes = 0


class FrameTable(PerType[FrameCounts]):
    """Every type's ``FrameCounts``, in declaration order.

    >>> table = FrameTable()
    >>> counts = table.counts("call")
    >>> counts.received += 1
    >>> table.counts("call").received
    1
    """

    def __init__(self) -> None:
        super().__init__(FrameCounts)


class FrameCollector(Collector):
    """Yield the frame and byte counters of a ``FrameTable``, read at scrape time.

    The counters carry no ``_created`` series: their start is the process's.
    """

    def __init__(self, table: FrameTable) -> None:
        self._table = table

    def describe(self) -> Iterator[Metric]:
        # Names only, so that a restricted registry (?name[]=) finds this collector.
        yield CounterMetricFamily(MESSAGES, MESSAGES_HELP, labels=["type", "direction"])
        yield CounterMetricFamily(MESSAGE_BYTES, MESSAGE_BYTES_HELP, labels=["type", "direction"])

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(MESSAGES, MESSAGES_HELP, labels=["type", "direction"])
        payload = CounterMetricFamily(
            MESSAGE_BYTES, MESSAGE_BYTES_HELP, labels=["type", "direction"]
        )
        for socket_type, counts in self._table.items():
            messages.add_metric([socket_type, RECEIVED], float(counts.received))
            messages.add_metric([socket_type, SENT], float(counts.sent))
            payload.add_metric([socket_type, RECEIVED], float(counts.received_bytes))
            payload.add_metric([socket_type, SENT], float(counts.sent_bytes))
        yield messages
        yield payload
