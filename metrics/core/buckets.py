"""Histogram buckets as plain integers: observed on the event loop, exposed at scrape time."""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client.core import HistogramMetricFamily

from .instruments import bucket_label

__all__ = ["BucketCounts", "add_histogram"]


class BucketCounts:
    """How many observations fell in each bucket of finite ascending ``bounds``, and their sum.

    No lock: each is observed from one thread at a time (the event loop, or
    under the tracker's lock), and a scrape reads it whole.

    >>> times = BucketCounts((0.001, 0.0025, 0.005))
    >>> times.observe(0.003)
    >>> times.cumulative()
    [('0.001', 0), ('0.0025', 0), ('0.005', 1), ('+Inf', 1)]
    """

    __slots__ = ("bounds", "in_bucket", "labels", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.labels = (*(bucket_label(bound) for bound in bounds), "+Inf")
        """Each bucket's ``le`` label, +Inf last."""
        self.in_bucket = [0] * len(self.labels)
        """Per bucket, not cumulative: index i counts bound[i-1] < value <= bound[i]."""
        self.total = 0.0
        """The sum of every observed value."""

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.in_bucket[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """Return ``(le, observations <= le)`` pairs, +Inf last, as a histogram exposes them."""
        running = 0
        buckets = []
        for label, count in zip(self.labels, list(self.in_bucket), strict=True):
            running += count
            buckets.append((label, running))
        return buckets


def add_histogram(family: HistogramMetricFamily, socket_type: str, counts: BucketCounts) -> None:
    """Add one type's buckets, count and sum to a histogram family."""
    # The sum first: observe() adds to it last, so the sum never holds an
    # observation that the buckets (and the count) miss.
    total = counts.total
    buckets = [(le, float(n)) for le, n in counts.cumulative()]
    family.add_metric([socket_type], buckets, sum_value=total)
