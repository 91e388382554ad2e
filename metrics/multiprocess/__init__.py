"""prometheus_client's multiprocess mode: several workers on one host, one ``/metrics``.

Set ``PROMETHEUS_MULTIPROC_DIR`` before prometheus_client is first imported
and use the gunicorn hooks (``metrics.gunicorn``). Then:

- each worker's tracker publishes its open sockets into its own files
  (``worker_files.WorkerGauges``, made by ``worker_tracker``);
- the master empties the directory at start and folds a dead worker's
  counters into archive files (``directory``);
- a scrape merges every worker's files into the one-process shapes
  (``collector.MultiProcessSocketCollector``, through ``merged_registry``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from ..capacity import ConnectionLimitCollector
from ..frames import FrameTable
from ..handshakes import HandshakeTable
from ..live import LiveSockets
from .collector import MultiProcessSocketCollector
from .directory import archive_dead_worker, files_enabled, multiprocess_dir, prepare_directory
from .worker_files import WorkerGauges

if TYPE_CHECKING:
    from ..tracker import SocketTracker

__all__ = [
    "MultiProcessSocketCollector",
    "WorkerGauges",
    "archive_dead_worker",
    "files_enabled",
    "merged_registry",
    "multiprocess_dir",
    "prepare_directory",
    "worker_tracker",
]


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
    from ..tracker import SocketTracker

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
        publisher=WorkerGauges(
            live,
            buckets,
            frames=frames,
            handshakes=handshakes,
            duration_bounds=config.duration_buckets,
        ),
    )
