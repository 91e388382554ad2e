"""The contract's buckets and its prometheus_client counters (names: ``metrics.contract``).

Gauges about open sockets are not here: they are computed at scrape time by
``metrics.core.live_collector`` from the live registry, so they cannot drift.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.utils import floatToGoString

from .. import label_values
from ..contract import (
    AGE,
    CLOSED,
    CONNECTIONS,
    DURATION,
    HANDSHAKE,
    HELP,
    LIMIT,
    MESSAGE_BYTES,
    MESSAGES,
    OLDEST_START,
    OPENED,
    REJECTED,
    TRACKING_ERRORS,
)

__all__ = [
    "AGE",
    "CLOSED",
    "CONNECTIONS",
    "DURATION",
    "HANDSHAKE",
    "HANDSHAKE_BUCKETS",
    "LIMIT",
    "MESSAGES",
    "MESSAGE_BYTES",
    "OLDEST_START",
    "OPENED",
    "REJECTED",
    "TRACKING_ERRORS",
    "TRACKING_STAGES",
    "SocketInstruments",
    "bucket_label",
]

# Handshake duration buckets (seconds): from a cached session lookup (1 ms) to
# a stalled authentication backend (10 s).
HANDSHAKE_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def bucket_label(bound: float) -> str:
    """The ``le`` label value of a bucket bound, as prometheus_client writes it.

    >>> bucket_label(5), bucket_label(2_592_000), bucket_label(float("inf"))
    ('5.0', '2.592e+06', '+Inf')
    """
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


# Where tracking can fail; the values of the tracking_errors "stage" label.
TRACKING_STAGES: Final = ("open", "frame", "close", "reject")


class SocketInstruments:
    """The contract's refusal and tracking-error counters, registered on ``registry``.

    What every accepted socket moves is not here: accepts, closes and lifetimes
    (``metrics.core.socket_counts``), frames and bytes (``metrics.core.frames``) and
    handshake durations (``metrics.core.handshakes``) are plain integers read at
    scrape time.

    >>> from prometheus_client import CollectorRegistry
    >>> instruments = SocketInstruments(CollectorRegistry())
    >>> instruments.rejected.labels(type="call", reason="denied").inc()
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rejected = Counter(
            REJECTED,
            HELP[REJECTED],
            ["type", "reason"],
            registry=registry,
        )
        self.tracking_errors = Counter(
            TRACKING_ERRORS,
            HELP[TRACKING_ERRORS],
            ["stage"],
            registry=registry,
        )
        for stage in TRACKING_STAGES:
            self.tracking_errors.labels(stage=stage)
        self.rejected.labels(type=label_values.UNKNOWN_TYPE, reason=label_values.NO_ROUTE)
