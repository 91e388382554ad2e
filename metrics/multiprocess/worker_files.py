"""One worker's open-socket gauges, written to prometheus_client's multiprocess files.

With several workers, a scrape served by one of them must see every worker's
open sockets, so each worker publishes what it holds into its own files and
the scrape merges them (``metrics.core.live_collector.MultiProcessSocketCollector``):

- ``vidai_websocket_connections`` (livesum) and
  ``vidai_websocket_oldest_connection_start_time_seconds`` (livemin), the
  contract's names;
- for the age gauge histogram, two internal gauges (livesum) that the scrape
  turns back into ``vidai_websocket_connection_age_seconds``: per bound, how
  many sockets are *older* than it, and the sum of start times. An open never
  changes either (a new socket is younger than every bound, and the start sum
  gives the age sum at scrape time), so only a close of a socket that had
  reached the smallest bound, and the passage of time, move them;
- ``vidai_websocket_worker_refresh_time_seconds`` (liveall, ``pid`` label):
  when this worker last re-derived everything, so a stuck worker shows;
- the accept and close counters and the lifetime histogram, the contract's
  names, written at every accept and close (the tracker counts them as plain
  integers, which multiprocess scrapes do not read);
- the frame and byte counters (counters, archived when the worker exits):
  what the worker's ``FrameTable`` gained since the last refresh, so they are
  at most one refresh interval behind;
- for the handshake duration histogram, two internal counters, refreshed the
  same way from the worker's ``HandshakeTable``, that the scrape turns back
  into ``vidai_websocket_handshake_duration_seconds``: handshakes per bucket
  (not cumulative) and their total seconds.

Counts, start times and start sums are re-published from the live registry
(read under one lock with the write) on every open and close, so totals are
exact at once; every ``interval`` a daemon thread re-derives all of them
(self-correction) and moves sockets across age bounds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from ..conf import multiprocess_dir
from ..contract import (
    AGE_OLDER,
    AGE_START_SUM,
    CLOSED,
    CONNECTIONS,
    DURATION,
    HANDSHAKE_IN_BUCKET,
    HANDSHAKE_SECONDS,
    HELP,
    MESSAGE_BYTES,
    MESSAGES,
    OLDEST_START,
    OPENED,
    SERVER_INFO,
    WORKER_REFRESH,
)
from ..core.frames import FrameTable
from ..core.handshakes import HandshakeTable
from ..core.instruments import bucket_label
from ..core.live import LiveSocket, LiveSockets
from ..core.servers import server_name
from ..label_values import CLOSE_LABELS, RECEIVED, SENT
from .directory import files_enabled, fold_dead_workers

logger = logging.getLogger(__name__)

__all__ = [
    "AGE_OLDER",
    "AGE_START_SUM",
    "HANDSHAKE_IN_BUCKET",
    "HANDSHAKE_SECONDS",
    "WORKER_REFRESH",
    "WorkerFilePublisher",
]


_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class _TypeGauges:
    connections: Gauge
    oldest: Gauge
    start_sum: Gauge
    older: tuple[Gauge, ...]
    """One per age bound, in the order of the bounds."""
    opened: Counter
    closed: dict[tuple[str, str], Counter]
    """By (reason, initiator)."""
    duration: Histogram


class WorkerFilePublisher:
    """Publish a worker's live registry into its multiprocess files.

    Made by ``metrics.multiprocess.worker_tracker`` with the tracker's own
    live registry, frame table and handshake table; needs
    ``PROMETHEUS_MULTIPROC_DIR`` set before prometheus_client was imported.
    The gauges are not registered on any registry: in multiprocess mode the
    files are the registry, read by ``MultiProcessSocketCollector``.
    """

    def __init__(
        self,
        live: LiveSockets,
        age_bounds: tuple[float, ...],
        *,
        frames: FrameTable,
        handshakes: HandshakeTable,
        duration_bounds: tuple[float, ...],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not files_enabled():
            raise RuntimeError(
                f"prometheus_client is not in multiprocess mode (PROMETHEUS_MULTIPROC_DIR="
                f"{multiprocess_dir()!r}): set the variable before prometheus_client is imported"
            )
        self._live = live
        self._frames = frames
        # What the files hold of each type's frame counts: received, its bytes, sent, its bytes.
        self._frames_written: dict[str, tuple[int, int, int, int]] = {}
        self._handshakes = handshakes
        # What the files hold of each type's handshakes: per bucket, and their seconds.
        self._handshakes_written: dict[str, tuple[list[int], float]] = {}
        self._bounds = age_bounds
        self._smallest_bound = min(age_bounds, default=float("inf"))
        self._clock = clock
        # Held while reading the live registry and writing what was read, so a
        # later write never carries an earlier reading.
        self._lock = threading.Lock()
        self._types: dict[str, _TypeGauges] = {}
        # The oldest start last written per type: most opens and closes leave it.
        self._oldest_written: dict[str, float] = {}
        self._connections = Gauge(
            CONNECTIONS,
            HELP[CONNECTIONS],
            ["type"],
            registry=None,
            multiprocess_mode="livesum",
        )
        self._oldest = Gauge(
            OLDEST_START,
            HELP[OLDEST_START],
            ["type"],
            registry=None,
            multiprocess_mode="livemin",
        )
        self._older = Gauge(
            AGE_OLDER,
            HELP[AGE_OLDER],
            ["type", "le"],
            registry=None,
            multiprocess_mode="livesum",
        )
        self._start_sum = Gauge(
            AGE_START_SUM,
            HELP[AGE_START_SUM],
            ["type"],
            registry=None,
            multiprocess_mode="livesum",
        )
        self._messages = Counter(MESSAGES, HELP[MESSAGES], ["type", "direction"], registry=None)
        self._message_bytes = Counter(
            MESSAGE_BYTES, HELP[MESSAGE_BYTES], ["type", "direction"], registry=None
        )
        self._handshake_in_bucket = Counter(
            HANDSHAKE_IN_BUCKET,
            HELP[HANDSHAKE_IN_BUCKET],
            ["type", "le"],
            registry=None,
        )
        self._handshake_seconds = Counter(
            HANDSHAKE_SECONDS,
            HELP[HANDSHAKE_SECONDS],
            ["type"],
            registry=None,
        )
        # Accepts, closes and lifetimes are written at once, so a killed worker
        # loses none: the archive keeps what its files held.
        self._opened = Counter(OPENED, HELP[OPENED], ["type"], registry=None)
        self._closed = Counter(CLOSED, HELP[CLOSED], ["type", "reason", "initiator"], registry=None)
        self._duration = Histogram(
            DURATION, HELP[DURATION], ["type"], buckets=duration_bounds, registry=None
        )
        self._refreshed = Gauge(
            WORKER_REFRESH,
            HELP[WORKER_REFRESH],
            registry=None,
            multiprocess_mode="liveall",
        )
        # Nothing is open yet, so the (empty) files are in step now; without a
        # refresh thread this stamp only ages, and the worker shows as stuck.
        self._refreshed.set(clock())
        Gauge(
            SERVER_INFO,
            HELP[SERVER_INFO],
            ["server"],
            registry=None,
            multiprocess_mode="livemax",
        ).labels(server=server_name()).set(1)
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._stop = threading.Event()

    def declare(self, socket_type: str) -> None:
        """Create a type's series in this worker's files, at its current values."""
        with self._lock:
            if socket_type not in self._types:
                self._types[socket_type] = _TypeGauges(
                    connections=self._connections.labels(type=socket_type),
                    oldest=self._oldest.labels(type=socket_type),
                    start_sum=self._start_sum.labels(type=socket_type),
                    older=tuple(
                        self._older.labels(type=socket_type, le=bucket_label(bound))
                        for bound in self._bounds
                    ),
                    opened=self._opened.labels(type=socket_type),
                    closed={
                        (reason, initiator): self._closed.labels(
                            type=socket_type, reason=reason, initiator=initiator
                        )
                        for reason, initiator in CLOSE_LABELS
                    },
                    duration=self._duration.labels(type=socket_type),
                )
            self._publish_type(socket_type)
            self._publish_frames(socket_type)
            self._publish_handshakes(socket_type)
            # The catch-all's "unknown" too, so its series exist before a refresh.
            for timed, _ in self._handshakes.items():
                if timed not in self._handshakes_written:
                    self._publish_handshakes(timed)

    def opened(self, socket_type: str) -> None:
        """Count an accept; publish the type's count, oldest start and start sum."""
        gauges = self._types.get(socket_type)
        if gauges is not None:
            gauges.opened.inc()
        with self._lock:
            self._publish_counts(socket_type)

    def closed(self, sock: LiveSocket, *, reason: str, initiator: str, lifetime: float) -> None:
        """Count a close; publish its type, age counts too if it had reached a bound."""
        gauges = self._types.get(sock.type)
        if gauges is not None:
            gauges.closed[reason, initiator].inc()
            gauges.duration.observe(lifetime)
        with self._lock:
            # A socket younger than every bound now was younger at the last
            # publish too: no "older" count includes it, none needs moving.
            if lifetime >= self._smallest_bound:
                self._publish_type(sock.type)
            else:
                self._publish_counts(sock.type)

    def refresh(self) -> None:
        """Re-derive every gauge from the live registry and stamp the refresh time."""
        with self._lock:
            # Write everything, skipped oldest starts too: after a fork the
            # files are new and only a full write puts them in step.
            self._oldest_written.clear()
            for socket_type in self._types:
                self._publish_type(socket_type)
                self._publish_frames(socket_type)
            # Every type timed, the catch-all's "unknown" too, declared or not.
            for socket_type, _ in self._handshakes.items():
                self._publish_handshakes(socket_type)
            self._refreshed.set(self._clock())

    def start(self, interval: float) -> None:
        """Refresh every ``interval`` seconds in a daemon thread (again after a fork)."""
        if self._thread is not None and self._thread_pid == os.getpid():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval, self._stop), name="vidai-worker-gauges", daemon=True
        )
        self._thread_pid = os.getpid()
        self._thread.start()

    def stop(self) -> None:
        """Stop the refresh thread and wait for it."""
        self._stop.set()
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self, interval: float, stop: threading.Event) -> None:
        while True:
            try:
                self.refresh()
            except Exception:
                # The refresh time stops moving: the worker shows as stuck.
                logger.exception("refreshing the worker's socket gauges failed")
            directory = multiprocess_dir()
            try:
                # A dead sibling leaves the counts within one interval, scraped or not.
                if directory:
                    fold_dead_workers(directory)
            except Exception:
                logger.exception("folding dead workers' files in failed")
            if stop.wait(interval):
                return

    def _publish_counts(self, socket_type: str) -> None:
        gauges = self._types.get(socket_type)
        if gauges is None:
            return
        count, oldest_ns, start_sum_ns = self._live.type_state(socket_type)
        gauges.start_sum.set(start_sum_ns / _NS)
        oldest = float("inf") if oldest_ns is None else oldest_ns / _NS
        if self._oldest_written.get(socket_type) != oldest:
            gauges.oldest.set(oldest)
            self._oldest_written[socket_type] = oldest
        gauges.connections.set(count)

    def _publish_frames(self, socket_type: str) -> None:
        counts = self._frames.counts(socket_type)
        # One read of each: the event loop may add to them meanwhile.
        now = (counts.received, counts.received_bytes, counts.sent, counts.sent_bytes)
        before = self._frames_written.get(socket_type, (0, 0, 0, 0))
        children = (
            self._messages.labels(type=socket_type, direction=RECEIVED),
            self._message_bytes.labels(type=socket_type, direction=RECEIVED),
            self._messages.labels(type=socket_type, direction=SENT),
            self._message_bytes.labels(type=socket_type, direction=SENT),
        )
        for child, new, old in zip(children, now, before, strict=True):
            child.inc(new - old)  # inc(0) still creates the series at 0
        self._frames_written[socket_type] = now

    def _publish_handshakes(self, socket_type: str) -> None:
        times = self._handshakes.counts(socket_type)
        # The sum first, as the one-process collector reads it: never ahead of the buckets.
        seconds = times.total
        in_bucket = list(times.in_bucket)
        written = self._handshakes_written.get(socket_type)
        before, seconds_before = written or ([-1] * len(in_bucket), 0.0)
        for label, new, old in zip(times.labels, in_bucket, before, strict=True):
            if new != old:  # the first write creates every series, at 0 or more
                self._handshake_in_bucket.labels(type=socket_type, le=label).inc(new - max(old, 0))
        if written is None or seconds != seconds_before:
            self._handshake_seconds.labels(type=socket_type).inc(seconds - seconds_before)
        self._handshakes_written[socket_type] = (in_bucket, seconds)

    def _publish_type(self, socket_type: str) -> None:
        gauges = self._types.get(socket_type)
        if gauges is None:
            return
        snapshot = self._live.snapshot((socket_type,), self._bounds)[socket_type]
        # Older first, count last: a scrape between the writes can only see a
        # bucket briefly too full, never above the count it reads.
        for gauge, (_bound, younger) in zip(gauges.older, snapshot.age_buckets[:-1], strict=True):
            gauge.set(snapshot.open - younger)
        self._publish_counts(socket_type)
