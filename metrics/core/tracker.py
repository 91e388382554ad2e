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
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry

from .. import label_values
from ..conf import get_settings, multiprocess_dir
from .buckets import BucketCounts
from .capacity import ConnectionLimitCollector
from .frames import FrameCollector, FrameCounts, FrameTable
from .handshakes import HandshakeCollector, HandshakeTable
from .instruments import SocketInstruments
from .live import LiveSocket, LiveSockets
from .live_collector import LiveSocketCollector
from .servers import ServerInfoCollector
from .socket_counts import SocketCountsCollector, SocketCountsTable, TypeCounts

logger = logging.getLogger(__name__)

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

_declared_types: dict[str, None] = {}
# Guards the declared types and the default tracker's creation together, so
# the default tracker never misses a declaration.
_declared_lock = threading.RLock()
_default: SocketTracker | None = None


def valid_type(socket_type: str) -> str:
    """Return ``socket_type`` if it is a valid type name from code, else raise ValueError."""
    if not _TYPE_NAME.fullmatch(socket_type) or socket_type == label_values.UNKNOWN_TYPE:
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


class LivePublisher(Protocol):
    """Where a tracker publishes its open sockets besides the live registry."""

    def declare(self, socket_type: str) -> None:
        """Create a type's series at its current values."""

    def opened(self, socket_type: str) -> None:
        """Publish an accept of a type."""

    def closed(self, sock: LiveSocket, *, reason: str, initiator: str, lifetime: float) -> None:
        """Publish a close, counted under ``reason`` and ``initiator``, ``lifetime`` seconds."""

    def start(self, interval: float) -> None:
        """Keep publishing every ``interval`` seconds in the background."""


class _Unpublished:
    """One process: scrapes read the live registry itself; nothing to publish."""

    def declare(self, socket_type: str) -> None:
        pass

    def opened(self, socket_type: str) -> None:
        pass

    def closed(self, sock: LiveSocket, *, reason: str, initiator: str, lifetime: float) -> None:
        pass

    def start(self, interval: float) -> None:
        pass


_UNPUBLISHED: LivePublisher = _Unpublished()


@dataclass(frozen=True, slots=True)
class _TypeChildren:
    """One type's plain counts, looked up once instead of per event."""

    counts: TypeCounts
    handshake: BucketCounts
    frames: FrameCounts


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
        frames: FrameTable | None = None,
        handshakes: HandshakeTable | None = None,
        publisher: LivePublisher | None = None,
    ) -> None:
        config = get_settings()
        self.registry = registry
        self.live = live if live is not None else LiveSockets()
        self.frame_table = frames if frames is not None else FrameTable()
        self.counts_table = SocketCountsTable(duration_buckets or config.duration_buckets)
        self.handshake_table = handshakes if handshakes is not None else HandshakeTable()
        # The catch-all's type: its handshakes show at 0 before the first one.
        self.handshake_table.counts(label_values.UNKNOWN_TYPE)
        # Multiprocess mode publishes the open sockets to this worker's files
        # (metrics.multiprocess.worker_tracker); one process has nothing to publish.
        self.publisher: LivePublisher = publisher if publisher is not None else _UNPUBLISHED
        self._instruments = SocketInstruments(registry)
        # Held while an open or a close updates the live registry and the
        # counters together, and by a scrape from another thread (the dedicated
        # listener), which so never sees half of one: opened - closed == open.
        self.lock = threading.Lock()
        self._children: dict[str, _TypeChildren] = {}
        for socket_type in types:
            self.declare(socket_type)
        registry.register(SocketCountsCollector(self.counts_table))
        registry.register(
            LiveSocketCollector(self.live, self.types, age_buckets or config.age_buckets)
        )
        registry.register(FrameCollector(self.frame_table))
        registry.register(HandshakeCollector(self.handshake_table))
        registry.register(ConnectionLimitCollector())
        registry.register(ServerInfoCollector())

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
        for reason in label_values.ROUTE_REJECT_REASONS:
            instruments.rejected.labels(type=socket_type, reason=reason)
        # The publisher first: if it fails, the type stays undeclared and the
        # next open declares it again, rather than counting it here only.
        self.publisher.declare(socket_type)
        self._children[socket_type] = _TypeChildren(
            counts=self.counts_table.counts(socket_type),
            handshake=self.handshake_table.counts(socket_type),
            frames=self.frame_table.counts(socket_type),
        )

    def opened(
        self, socket_type: str, *, key: Hashable | None = None, user_id: str | None = None
    ) -> Hashable:
        """Count an accepted socket and return its key for ``closed``."""
        children = self._children.get(socket_type) or self._declared(socket_type)
        with self.lock:
            key = self.live.add(socket_type, key=key, user_id=user_id)
            children.counts.opened += 1
        self.publisher.opened(socket_type)
        return key

    def closed(self, key: Hashable, *, code: object, initiator: str) -> bool:
        """Count a socket's close once; return False if it was already closed."""
        if initiator not in label_values.INITIATORS:
            raise ValueError(f"initiator must be one of {label_values.INITIATORS}")
        with self.lock:
            sock = self.live.discard(key)
            if sock is None:
                return False
            reason = label_values.close_reason(code)
            counts = self._children[sock.type].counts
            counts.closed[reason, initiator] += 1
            lifetime = self.live.lifetime(sock)
            counts.lifetimes.observe(lifetime)
        self.publisher.closed(sock, reason=reason, initiator=initiator, lifetime=lifetime)
        return True

    def close_all(self, *, code: int, initiator: str) -> int:
        """Count every socket still open as closed (a worker exiting); return how many."""
        return sum(
            self.closed(sock.key, code=code, initiator=initiator) for sock in self.live.sockets()
        )

    def rejected(self, socket_type: str, reason: str) -> None:
        """Count a handshake that was never accepted."""
        if reason not in label_values.REJECT_REASONS:
            raise ValueError(f"reason must be one of {label_values.REJECT_REASONS}")
        self._instruments.rejected.labels(type=socket_type, reason=reason).inc()

    def handshake_done(self, socket_type: str, seconds: float) -> None:
        """Observe how long a handshake took from its arrival to its accept or refusal.

        From the event loop's thread, as the wrappers time handshakes (no lock).
        """
        children = self._children.get(socket_type)
        if children is None:  # unknown: a handshake no tracked route took
            self.handshake_table.counts(socket_type).observe(seconds)
        else:
            children.handshake.observe(seconds)

    def frame_counts(self, socket_type: str) -> FrameCounts:
        """Return the type's frame and byte counts, for the wrapper to add to directly."""
        children = self._children.get(socket_type) or self._declared(socket_type)
        return children.frames

    def tracking_error(self, stage: str) -> None:
        """Count an error that tracking swallowed."""
        self._instruments.tracking_errors.labels(stage=stage).inc()

    def sockets(self) -> list[LiveSocket]:
        """Return the open sockets, oldest first."""
        return self.live.sockets()

    def _declared(self, socket_type: str) -> _TypeChildren:
        self.declare(socket_type)
        return self._children[socket_type]


class TrackerFactory(Protocol):
    """What makes the process's default tracker: ``SocketTracker`` itself, or a worker's."""

    def __call__(self, registry: CollectorRegistry, *, types: Iterable[str]) -> SocketTracker:
        """Make the tracker, counting ``types`` into ``registry``."""


_factory: TrackerFactory | None = None


def use_tracker_factory(factory: TrackerFactory) -> None:
    """Make the default tracker with ``factory`` (set once, before its first use).

    How one process becomes one worker of several: the app's ``ready()``
    installs ``metrics.multiprocess.start_worker`` when
    ``PROMETHEUS_MULTIPROC_DIR`` is set, and nothing here imports it.
    """
    global _factory
    with _declared_lock:
        _factory = factory


def default_tracker() -> SocketTracker:
    """Return the process's tracker, created on first use on prometheus_client's REGISTRY.

    It reports every type declared by ``track()``, before or after its creation.
    In multiprocess mode it is the worker's (``use_tracker_factory``): it also
    writes the worker's files and refreshes them in a daemon thread.
    """
    global _default
    # Read once: replace_default_tracker() may swap it from another thread.
    found = _default
    if found is None:
        with _declared_lock:
            found = _default
            if found is None:
                if _factory is None and multiprocess_dir():
                    raise RuntimeError(
                        "PROMETHEUS_MULTIPROC_DIR is set but the metrics app is not ready: "
                        "add 'metrics' to INSTALLED_APPS and set Django up first"
                    )
                factory = _factory or SocketTracker
                found = _default = factory(REGISTRY, types=tuple(_declared_types))
    return found


def replace_default_tracker(tracker: SocketTracker | None) -> SocketTracker | None:
    """Make ``tracker`` the process's default and return the one it replaces.

    For tests (``metrics.testing.isolated_tracker``): routes and services built
    with ``tracker=None`` read the default per socket, so they count into it.
    The incoming tracker reports every type declared so far, declared under the
    same lock as the swap. None is only for putting back a process that had
    no default yet (made on next use, on prometheus_client's REGISTRY).
    """
    global _default
    with _declared_lock:
        if tracker is not None:
            for socket_type in _declared_types:
                tracker.declare(socket_type)
        previous, _default = _default, tracker
    return previous


def tracker_or_default(tracker: SocketTracker | None) -> SocketTracker:
    """Return ``tracker``, or the process's default tracker when it is None.

    What every wrapper and service given ``tracker=None`` calls at use, not at
    construction: the default is made once Django's settings are known.
    """
    return tracker if tracker is not None else default_tracker()
