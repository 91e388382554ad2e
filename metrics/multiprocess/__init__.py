"""prometheus_client's multiprocess mode: several workers on one host, one ``/metrics``.

Set ``PROMETHEUS_MULTIPROC_DIR`` in the environment that starts the server,
so that prometheus_client, first imported in each worker, writes files. Any
server's workers then work (gunicorn, ``uvicorn --workers``, hypercorn,
granian; docs/scaling.md):

- each worker joins the directory's run, the first of a run removing an
  earlier run's files (``directory.join_run``), and its tracker publishes its
  open sockets into its own files (``worker_files.WorkerFilePublisher``, made by
  ``worker_tracker``); at a clean exit it counts the sockets it still holds
  as closed by the server (``finish_worker``);
- a dead worker is folded in by whoever notices first: its live gauges
  dropped, its unclosed sockets counted closed, its counters archived
  (``directory.fold_dead_workers``);
- a scrape merges every worker's files into the one-process shapes
  (``collector.MultiProcessSocketCollector``, through ``merged_registry``).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from ..core.capacity import ConnectionLimitCollector
from ..core.frames import FrameTable
from ..core.handshakes import HandshakeTable
from ..core.live import LiveSockets
from ..label_values import SERVER
from .collector import MultiProcessSocketCollector
from .directory import (
    archive_dead_worker,
    files_enabled,
    fold_dead_workers,
    join_run,
    prepare_directory,
)
from .worker_files import WorkerFilePublisher

if TYPE_CHECKING:
    from ..core.tracker import SocketTracker

__all__ = [
    "MultiProcessSocketCollector",
    "WorkerFilePublisher",
    "archive_dead_worker",
    "files_enabled",
    "finish_worker",
    "fold_dead_workers",
    "join_run",
    "merged_registry",
    "prepare_directory",
    "start_worker",
    "worker_tracker",
]

# The close code counted for sockets a worker still holds when it exits:
# the server is going away (RFC 6455, 1001).
EXIT_CLOSE_CODE = 1001


def merged_registry(path: str) -> CollectorRegistry:
    """A fresh registry over every worker's files (prometheus_client's guide: one per scrape)."""
    registry = CollectorRegistry()
    registry.register(MultiProcessSocketCollector(path))
    # The limit is configuration, not a worker's count: read from settings, not files.
    registry.register(ConnectionLimitCollector())
    return registry


def worker_tracker(
    registry: CollectorRegistry,
    *,
    types: Iterable[str] = (),
    age_buckets: tuple[float, ...] | None = None,
    live: LiveSockets | None = None,
) -> SocketTracker:
    """A tracker that also publishes its open sockets into this worker's files."""
    from ..conf import get_settings
    from ..core.tracker import SocketTracker

    live = live if live is not None else LiveSockets()
    frames = FrameTable()
    handshakes = HandshakeTable()
    config = get_settings()
    buckets = age_buckets or config.age_buckets
    return SocketTracker(
        registry,
        types=types,
        age_buckets=buckets,
        live=live,
        frames=frames,
        handshakes=handshakes,
        publisher=WorkerFilePublisher(
            live,
            buckets,
            frames=frames,
            handshakes=handshakes,
            duration_bounds=config.duration_buckets,
        ),
    )


def start_worker(registry: CollectorRegistry, *, types: Iterable[str] = ()) -> SocketTracker:
    """This worker's tracker: run joined, files written, refreshed, finished at exit."""
    from ..conf import get_settings, multiprocess_dir

    directory = multiprocess_dir()
    if directory:
        join_run(directory)
    tracker = worker_tracker(registry, types=types)
    tracker.publisher.start(get_settings().worker_refresh_seconds)
    pid = os.getpid()
    # Not in a child forked from this worker: its sockets are not the child's.
    atexit.register(lambda: finish_worker(tracker) if os.getpid() == pid else 0)
    return tracker


def finish_worker(tracker: SocketTracker) -> int:
    """Count the sockets still open as closed by the server; write what the files lack.

    For a worker exiting while its server never ended the apps (daphne at
    times, a worker's exit hook). Returns how many sockets it closed; safe to
    call more than once.
    """
    closed = tracker.close_all(code=EXIT_CLOSE_CODE, initiator=SERVER)
    if isinstance(tracker.publisher, WorkerFilePublisher):
        # Stopped first: a refresh thread cut off midway through folding a
        # sibling in is what the fold's recovery is for, but need not happen.
        tracker.publisher.stop()
        tracker.publisher.refresh()
    return closed
