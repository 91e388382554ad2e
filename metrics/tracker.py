"""The socket tracker: what the ASGI hooks call, one object per process.

It owns the live registry and the metric objects, so "open", "opened" and
"closed" can never disagree: a socket is removed from the live registry once,
and only that removal counts the close.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from . import close_codes
from .collector import LiveSocketCollector
from .conf import get_settings
from .instruments import SocketInstruments
from .live import LiveSocket, LiveSockets
from .worker_gauges import WorkerGauges
from .workers import multiprocess_dir

logger = logging.getLogger(__name__)

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

_declared_types: dict[str, None] = {}
# Guards the declared types and the default tracker's creation together, so
# the default tracker never misses a declaration.
_declared_lock = threading.RLock()
_default: SocketTracker | None = None


def valid_type(socket_type: str) -> str:
    """Return ``socket_type`` if it is a valid type name from code, else raise ValueError."""
    if not _TYPE_NAME.fullmatch(socket_type) or socket_type == close_codes.UNKNOWN_TYPE:
        raise ValueError(
            f"socket type {socket_type!r} must match {_TYPE_NAME.pattern} and not be 'unknown'"
        )
    return socket_type


def declare_type(socket_type: str) -> str:
    """Validate a socket type name from code and remember it for the default tracker."""
    valid_type(socket_type)
    with _declared_lock:
        _declared_types[socket_type] = None
        if _default is not None:
            _default.declare(socket_type)
    return socket_type


@dataclass(frozen=True, slots=True)
class _TypeChildren:
    """One type's labelled metric children, looked up once instead of per event."""

    opened: Counter
    duration: Histogram
    received_messages: Counter
    received_bytes: Counter
    sent_messages: Counter
    sent_bytes: Counter


class SocketTracker:
    """Counts sockets of named types into a Prometheus registry.

    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> tracker = SocketTracker(registry, types=("call",))
    >>> key = tracker.opened("call")
    >>> tracker.closed(key, code=1000, initiator="client")
    True
    >>> registry.get_sample_value(
    ...     "vidai_websocket_connections_closed_total",
    ...     {"type": "call", "reason": "normal", "initiator": "client"})
    1.0
    """

    def __init__(
        self,
        registry: CollectorRegistry = REGISTRY,
        *,
        types: Iterable[str] = (),
        duration_buckets: tuple[float, ...] | None = None,
        age_buckets: tuple[float, ...] | None = None,
        live: LiveSockets | None = None,
        worker_files: bool = False,
    ) -> None:
        config = get_settings()
        self.registry = registry
        self.live = live if live is not None else LiveSockets()
        # Multiprocess mode: the open-socket gauges also go to this worker's files.
        self.worker_gauges = (
            WorkerGauges(self.live, age_buckets or config.age_buckets) if worker_files else None
        )
        self._instruments = SocketInstruments(
            registry, duration_buckets=duration_buckets or config.duration_buckets
        )
        self._children: dict[str, _TypeChildren] = {}
        self._closed_children: dict[tuple[str, str, str], Counter] = {}
        for socket_type in types:
            self.declare(socket_type)
        registry.register(
            LiveSocketCollector(self.live, self.types, age_buckets or config.age_buckets)
        )

    def types(self) -> tuple[str, ...]:
        """Return the socket types this tracker reports, in declaration order."""
        return tuple(self._children)

    def declare(self, socket_type: str) -> None:
        """Pre-initialise a type's series to 0 so they never go missing."""
        if socket_type in self._children:
            return
        instruments = self._instruments
        # Every series a type can have exists from the start, so the first close
        # or rejection shows in rate() and increase() (they need a prior sample).
        for reason in (close_codes.DENIED, close_codes.ERROR):
            instruments.rejected.labels(type=socket_type, reason=reason)
        for reason in close_codes.CLOSE_REASONS:
            for initiator in close_codes.INITIATORS:
                self._closed_child(socket_type, reason, initiator)
        self._children[socket_type] = _TypeChildren(
            opened=instruments.opened.labels(type=socket_type),
            duration=instruments.duration.labels(type=socket_type),
            received_messages=instruments.messages.labels(type=socket_type, direction="received"),
            received_bytes=instruments.message_bytes.labels(type=socket_type, direction="received"),
            sent_messages=instruments.messages.labels(type=socket_type, direction="sent"),
            sent_bytes=instruments.message_bytes.labels(type=socket_type, direction="sent"),
        )
        if self.worker_gauges is not None:
            self.worker_gauges.declare(socket_type)

    def opened(
        self, socket_type: str, *, key: Hashable | None = None, user_id: str | None = None
    ) -> Hashable:
        """Count an accepted socket and return its key for ``closed``."""
        children = self._children.get(socket_type) or self._declared(socket_type)
        key = self.live.add(socket_type, key=key, user_id=user_id)
        children.opened.inc()
        if self.worker_gauges is not None:
            self.worker_gauges.opened(socket_type)
        return key

    def closed(self, key: Hashable, *, code: object, initiator: str) -> bool:
        """Count a socket's close once; return False if it was already closed."""
        if initiator not in close_codes.INITIATORS:
            raise ValueError(f"initiator must be one of {close_codes.INITIATORS}")
        sock = self.live.discard(key)
        if sock is None:
            return False
        reason = close_codes.close_reason(code)
        self._closed_child(sock.type, reason, initiator).inc()
        self._children[sock.type].duration.observe(self.live.lifetime(sock))
        if self.worker_gauges is not None:
            self.worker_gauges.closed(sock)
        return True

    def rejected(self, socket_type: str, reason: str) -> None:
        """Count a handshake that was never accepted."""
        if reason not in close_codes.REJECT_REASONS:
            raise ValueError(f"reason must be one of {close_codes.REJECT_REASONS}")
        self._instruments.rejected.labels(type=socket_type, reason=reason).inc()

    def frames(
        self, socket_type: str, *, received: int, received_bytes: int, sent: int, sent_bytes: int
    ) -> None:
        """Count a batch of frames and their payload bytes, both ways."""
        children = self._children.get(socket_type) or self._declared(socket_type)
        if received:
            children.received_messages.inc(received)
            children.received_bytes.inc(received_bytes)
        if sent:
            children.sent_messages.inc(sent)
            children.sent_bytes.inc(sent_bytes)

    def tracking_error(self, stage: str) -> None:
        """Count an error that tracking swallowed."""
        self._instruments.tracking_errors.labels(stage=stage).inc()

    def sockets(self) -> list[LiveSocket]:
        """Return the open sockets, oldest first."""
        return self.live.sockets()

    def _declared(self, socket_type: str) -> _TypeChildren:
        self.declare(socket_type)
        return self._children[socket_type]

    def _closed_child(self, socket_type: str, reason: str, initiator: str) -> Counter:
        label_key = (socket_type, reason, initiator)
        child = self._closed_children.get(label_key)
        if child is None:
            child = self._instruments.closed.labels(
                type=socket_type, reason=reason, initiator=initiator
            )
            self._closed_children[label_key] = child
        return child


def default_tracker() -> SocketTracker:
    """Return the process's tracker, created on first use on prometheus_client's REGISTRY.

    It reports every type declared by ``track()``, before or after its creation.
    With ``PROMETHEUS_MULTIPROC_DIR`` set it also writes the worker's gauge files
    and refreshes them in a daemon thread.
    """
    global _default
    if _default is None:
        with _declared_lock:
            if _default is None:
                tracker = SocketTracker(
                    REGISTRY,
                    types=tuple(_declared_types),
                    worker_files=multiprocess_dir() is not None,
                )
                if tracker.worker_gauges is not None:
                    tracker.worker_gauges.start(get_settings().worker_refresh_seconds)
                _default = tracker
    return _default
