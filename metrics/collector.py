"""Scrape-time gauges about open sockets: from the live registry, or from every worker's files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .instruments import AGE, CONNECTIONS, OLDEST_START
from .live import LiveSockets, TypeSnapshot
from .worker_gauges import AGE_OLDER, AGE_START_SUM
from .workers import directory_lock, metric_files


class LiveSocketCollector(Collector):
    """Yield open-connection gauges, built anew from ``live`` on every scrape.

    >>> from prometheus_client import CollectorRegistry, generate_latest
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
        connections = GaugeMetricFamily(
            CONNECTIONS, "Open WebSocket connections (accepted, not yet closed).", labels=["type"]
        )
        oldest = GaugeMetricFamily(
            OLDEST_START,
            "Unix time the oldest open WebSocket connection was accepted (+Inf when none).",
            labels=["type"],
        )
        ages = GaugeHistogramMetricFamily(
            AGE, "Open WebSocket connections by age, at scrape time.", labels=["type"]
        )
        for socket_type, snap in snapshot.items():
            connections.add_metric([socket_type], snap.open)
            oldest.add_metric([socket_type], snap.oldest_start)
            ages.add_metric(
                [socket_type],
                [(_bound_label(bound), count) for bound, count in snap.age_buckets],
                gsum_value=snap.age_sum,
            )
        yield connections
        yield oldest
        yield ages


def _bound_label(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class MultiProcessSocketCollector(Collector):
    """Every worker's metric files, merged, with the metric contract's shapes.

    prometheus_client's ``MultiProcessCollector`` merges the files; the age
    gauge histogram, which workers store as two internal gauges (see
    ``metrics.worker_gauges``), is rebuilt here from the merged sums:
    ``le`` bucket = open - older than ``le``, ``_gcount`` = open,
    ``_gsum`` = open x now - sum of start times. Files are read under the
    directory's shared lock, so a dead worker being folded into the archives
    is counted exactly once.

    >>> import tempfile
    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> registry.register(MultiProcessSocketCollector(tempfile.mkdtemp()))
    >>> registry.get_sample_value("vidai_websocket_connections", {"type": "call"}) is None
    True
    """

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        with directory_lock(self._path, exclusive=False):
            merged = list(MultiProcessCollector.merge(metric_files(self._path)))  # type: ignore[no-untyped-call]
        now = self._clock()
        open_by_type: dict[str, float] = {}
        older: dict[str, dict[float, float]] = {}
        start_sums: dict[str, float] = {}
        for family in merged:
            if family.name == AGE_OLDER:
                for sample in family.samples:
                    by_bound = older.setdefault(sample.labels["type"], {})
                    by_bound[float(sample.labels["le"])] = sample.value
                continue
            if family.name == AGE_START_SUM:
                for sample in family.samples:
                    start_sums[sample.labels["type"]] = sample.value
                continue
            if family.name == CONNECTIONS:
                for sample in family.samples:
                    open_by_type[sample.labels["type"]] = sample.value
            yield family
        if open_by_type:
            yield _age_family(open_by_type, older, start_sums, now)


def _age_family(
    open_by_type: dict[str, float],
    older: dict[str, dict[float, float]],
    start_sums: dict[str, float],
    now: float,
) -> GaugeHistogramMetricFamily:
    ages = GaugeHistogramMetricFamily(
        AGE, "Open WebSocket connections by age, at scrape time.", labels=["type"]
    )
    for socket_type, count in open_by_type.items():
        buckets = []
        # Each worker writes its own gauges one at a time: a scrape may catch a
        # worker between two writes, so keep the buckets monotonic and in range.
        floor = 0.0
        for bound, older_count in sorted(older.get(socket_type, {}).items()):
            floor = min(count, max(floor, count - older_count))
            buckets.append((_bound_label(bound), floor))
        buckets.append(("+Inf", count))
        age_sum = count * now - start_sums.get(socket_type, 0.0) if count else 0.0
        ages.add_metric([socket_type], buckets, gsum_value=max(0.0, age_sum))
    return ages
