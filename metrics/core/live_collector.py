"""Scrape-time gauges about open sockets, from this process's live registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..contract import AGE, CONNECTIONS, HELP, OLDEST_START
from .instruments import bucket_label
from .live import LiveSockets, TypeSnapshot


class LiveSocketCollector(Collector):
    """Yield open-connection gauges, built anew from ``live`` on every scrape.

    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> live = LiveSockets()
    >>> registry.register(LiveSocketCollector(live, lambda: ("call",), (60.0,)))
    >>> _ = live.add("call")
    >>> registry.get_sample_value("vidai_websocket_connections", {"type": "call"})
    1.0
    """

    def __init__(
        self,
        live: LiveSockets,
        types: Callable[[], Iterable[str]],
        age_bounds: tuple[float, ...],
    ) -> None:
        self._live = live
        self._types = types
        self._age_bounds = age_bounds

    def describe(self) -> Iterator[Metric]:
        yield from self._families({})

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._live.snapshot(self._types(), self._age_bounds))

    @staticmethod
    def _families(snapshot: dict[str, TypeSnapshot]) -> Iterator[Metric]:
        connections = GaugeMetricFamily(CONNECTIONS, HELP[CONNECTIONS], labels=["type"])
        oldest = GaugeMetricFamily(OLDEST_START, HELP[OLDEST_START], labels=["type"])
        ages = GaugeHistogramMetricFamily(AGE, HELP[AGE], labels=["type"])
        for socket_type, snap in snapshot.items():
            connections.add_metric([socket_type], float(snap.open))
            oldest.add_metric([socket_type], snap.oldest_start)
            ages.add_metric(
                [socket_type],
                [(bucket_label(bound), count) for bound, count in snap.age_buckets],
                gsum_value=snap.age_sum,
            )
        yield connections
        yield oldest
        yield ages
