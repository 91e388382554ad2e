"""The scrape's view of every worker's files: merged, in the metric contract's shapes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeHistogramMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ..contract import (
    AGE,
    AGE_OLDER,
    AGE_START_SUM,
    CONNECTIONS,
    HANDSHAKE_IN_BUCKET,
    HANDSHAKE_SECONDS,
    HELP,
)
from ..core.handshakes import handshake_family
from ..core.instruments import HANDSHAKE_BUCKETS, bucket_label
from .directory import directory_lock, fold_dead_workers, metric_files

__all__ = ["MultiProcessSocketCollector"]


class MultiProcessSocketCollector(Collector):
    """Every worker's metric files, merged, with the metric contract's shapes.

    prometheus_client's ``MultiProcessCollector`` merges the files; the age
    gauge histogram, which workers store as two internal gauges (see
    ``metrics.multiprocess.worker_files``), is rebuilt here from the merged sums:
    ``le`` bucket = open - older than ``le``, ``_gcount`` = open,
    ``_gsum`` = open x now - sum of start times. The handshake duration
    histogram, stored as two internal counters, is rebuilt the same way:
    buckets made cumulative, the total seconds as its sum. Files are read under the
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
        # A worker gone since the last look is folded in first: its sockets
        # leave the gauge, and its unclosed ones are counted closed, at once.
        fold_dead_workers(self._path)
        with directory_lock(self._path, exclusive=False):
            merged = list(MultiProcessCollector.merge(metric_files(self._path)))  # type: ignore[no-untyped-call]
        now = self._clock()
        open_by_type: dict[str, float] = {}
        older: dict[str, dict[float, float]] = {}
        start_sums: dict[str, float] = {}
        handshakes: dict[str, dict[str, float]] = {}
        handshake_seconds: dict[str, float] = {}
        for family in merged:
            if family.name == HANDSHAKE_IN_BUCKET:
                for sample in family.samples:
                    if sample.name.endswith("_total"):  # not the _created series
                        by_label = handshakes.setdefault(sample.labels["type"], {})
                        by_label[sample.labels["le"]] = sample.value
                continue
            if family.name == HANDSHAKE_SECONDS:
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        handshake_seconds[sample.labels["type"]] = sample.value
                continue
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
        if handshakes:
            yield _handshake_family(handshakes, handshake_seconds)


def _handshake_family(
    in_bucket: dict[str, dict[str, float]], seconds: dict[str, float]
) -> HistogramMetricFamily:
    family = handshake_family()
    for socket_type, by_label in in_bucket.items():
        running = 0.0
        buckets = []
        for label in (*(bucket_label(bound) for bound in HANDSHAKE_BUCKETS), "+Inf"):
            running += by_label.get(label, 0.0)
            buckets.append((label, running))
        family.add_metric([socket_type], buckets, sum_value=seconds.get(socket_type, 0.0))
    return family


def _age_family(
    open_by_type: dict[str, float],
    older: dict[str, dict[float, float]],
    start_sums: dict[str, float],
    now: float,
) -> GaugeHistogramMetricFamily:
    ages = GaugeHistogramMetricFamily(AGE, HELP[AGE], labels=["type"])
    for socket_type, count in open_by_type.items():
        buckets = []
        # Each worker writes its own gauges one at a time: a scrape may catch a
        # worker between two writes, so keep the buckets monotonic and in range.
        floor = 0.0
        for bound, older_count in sorted(older.get(socket_type, {}).items()):
            floor = min(count, max(floor, count - older_count))
            buckets.append((bucket_label(bound), floor))
        buckets.append(("+Inf", count))
        age_sum = count * now - start_sums.get(socket_type, 0.0) if count else 0.0
        ages.add_metric([socket_type], buckets, gsum_value=max(0.0, age_sum))
    return ages
