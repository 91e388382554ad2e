"""The metric contract's names and its counters and histograms, on an injected registry.

Gauges about open sockets are not here: they are computed at scrape time by
``metrics.collector`` from the live registry, so they cannot drift.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from . import label_values

CONNECTIONS: Final = "vidai_websocket_connections"
OPENED: Final = "vidai_websocket_connections_opened"
CLOSED: Final = "vidai_websocket_connections_closed"
REJECTED: Final = "vidai_websocket_connections_rejected"
DURATION: Final = "vidai_websocket_connection_duration_seconds"
OLDEST_START: Final = "vidai_websocket_oldest_connection_start_time_seconds"
AGE: Final = "vidai_websocket_connection_age_seconds"
MESSAGES: Final = "vidai_websocket_messages"
MESSAGE_BYTES: Final = "vidai_websocket_message_bytes"
TRACKING_ERRORS: Final = "vidai_websocket_tracking_errors"
HANDSHAKE: Final = "vidai_websocket_handshake_duration_seconds"
LIMIT: Final = "vidai_websocket_connections_limit"

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
    """The ``le`` label value of a bucket bound, as prometheus_client writes it."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


# Where tracking can fail; the values of the tracking_errors "stage" label.
TRACKING_STAGES: Final = ("open", "frame", "close", "reject")


class SocketInstruments:
    """The event-driven metrics of the contract, registered on ``registry``.

    Frames, bytes and handshake durations are not here: ``metrics.frames`` and
    ``metrics.handshakes`` read them at scrape time.

    >>> from prometheus_client import CollectorRegistry
    >>> instruments = SocketInstruments(CollectorRegistry(), duration_buckets=(1.0, 60.0))
    >>> instruments.opened.labels(type="call").inc()
    """

    def __init__(self, registry: CollectorRegistry, *, duration_buckets: tuple[float, ...]):
        self.opened = Counter(OPENED, "WebSocket handshakes accepted.", ["type"], registry=registry)
        self.closed = Counter(
            CLOSED,
            "WebSocket connections closed after accept, by close reason and initiator.",
            ["type", "reason", "initiator"],
            registry=registry,
        )
        self.rejected = Counter(
            REJECTED,
            "WebSocket handshakes never accepted, by reason.",
            ["type", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            DURATION,
            "Lifetime of WebSocket connections, observed at close.",
            ["type"],
            buckets=duration_buckets,
            registry=registry,
        )
        self.tracking_errors = Counter(
            TRACKING_ERRORS,
            "Errors inside socket tracking, swallowed so the socket carried on.",
            ["stage"],
            registry=registry,
        )
        for stage in TRACKING_STAGES:
            self.tracking_errors.labels(stage=stage)
        self.rejected.labels(type=label_values.UNKNOWN_TYPE, reason=label_values.NO_ROUTE)
