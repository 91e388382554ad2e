"""The status document the frontend polls, built from the exposed samples.

The counts are read from what ``/metrics`` would expose at the same moment
(``exposed_registry()``), or from Prometheus for the fleet view, never from a
second counter, so the two cannot disagree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from ..conf import cached_per_settings, get_settings, multiprocess_dir, on_settings_change
from .exposition import exposed_registry
from .summary import SocketSummary, summarize

__all__ = [
    "build_status",
    "read_status",
    "status_etag",
    "ws_endpoints",
]


@cached_per_settings
def ws_endpoints() -> dict[str, str]:
    """Path template of every tracked endpoint, from the project's routes (computed once)."""
    from ..asgi.routes import project_routes, tracked_endpoints

    return tracked_endpoints(project_routes())


def local_summary() -> tuple[SocketSummary, str]:
    """Summarise the registry /metrics exposes here, and name where it came from."""
    return summarize(exposed_registry()), "multiprocess" if multiprocess_dir() else "process"


class _MergedSummary:
    """Every worker's summary, merged from the files at most once per refresh interval.

    A merge reads every worker's files (a full collect: the files cannot be
    read for two families alone), which grows with the workers and their
    sockets; browsers poll the status JSON from every tab. So one merge, in a
    thread, serves every request of the next ``WORKER_REFRESH_SECONDS``; a
    request that finds it stale waits for one merge, made by the first such
    request while the others wait on the lock. A lock, not a future: Django's
    test client and ``async_to_sync`` give each request its own event loop.
    """

    def __init__(
        self,
        registry: Callable[[], CollectorRegistry] = exposed_registry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        # (when the merge started, its summary)
        self._last: tuple[float, SocketSummary] | None = None

    def fresh(self, max_age: float) -> SocketSummary | None:
        """The last summary if its merge started less than ``max_age`` seconds ago."""
        last = self._last
        if last is not None and self._clock() - last[0] < max_age:
            return last[1]
        return None

    def read(self, max_age: float) -> SocketSummary:
        """A summary at most ``max_age`` seconds old, merged now if need be (blocks)."""
        with self._lock:
            found = self.fresh(max_age)
            if found is None:
                started = self._clock()
                found = summarize(self._registry())
                self._last = (started, found)
            return found

    def forget(self) -> None:
        """Drop the last summary (settings changed)."""
        self._last = None


_merged = _MergedSummary()
on_settings_change(_merged.forget)


async def _host_summary() -> tuple[SocketSummary, str]:
    if not multiprocess_dir():
        # One process: a few binary searches in the live registry under its
        # lock, exact at every request, as /metrics is.
        return local_summary()
    max_age = get_settings().worker_refresh_seconds
    summary = _merged.fresh(max_age)
    if summary is None:
        # Files are read off the event loop, as /metrics reads them.
        summary = await asyncio.to_thread(_merged.read, max_age)
    return summary, "multiprocess"


async def read_summary() -> tuple[SocketSummary, str]:
    """Return the numbers the status document shows, and their source.

    With ``STATUS_SOURCE = "prometheus"``: the whole fleet's, from a recent
    Prometheus answer (source ``prometheus``); otherwise, or while Prometheus
    does not answer, this host's: one process's at every request, several
    workers' merged at most once per ``WORKER_REFRESH_SECONDS``. Never waits
    for Prometheus.
    """
    from .fleet import default_fleet  # the fleet's summary is a SocketSummary

    fleet = default_fleet()
    reading = fleet.reading() if fleet is not None else None
    if reading is not None:
        return reading.summary, "prometheus"
    return await _host_summary()


def build_status(summary: SocketSummary, *, active: bool, source: str) -> dict[str, Any]:
    """Return the status document: the seed's keys plus the additions in docs/status-json.md."""
    now = time.time()
    endpoints = ws_endpoints()
    types = list(dict.fromkeys([*endpoints, *summary.counts]))
    counts = {socket_type: summary.counts.get(socket_type, 0) for socket_type in types}
    ages = summary.oldest_age(now)
    return {
        "active": summary.active(active),
        "total_sockets": sum(counts.values()),
        "sockets_by_type": counts,
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        "ws_endpoints": endpoints,
        "oldest_connection_age_seconds": {t: ages.get(t) for t in types},
        "source": source,
    }


def status_etag(summary: SocketSummary, *, active: bool, source: str) -> str:
    """Weak validator of the state behind a document (counts and start times, not ages).

    Ages and the timestamp move every second; a client that gets 304 keeps
    its document and ages it by the time since its ``timestamp``.
    """
    state = json.dumps(
        [
            summary.active(active),
            source,
            sorted(summary.counts.items()),
            sorted(summary.oldest_start.items()),
        ],
        separators=(",", ":"),
    )
    return 'W/"' + hashlib.sha256(state.encode()).hexdigest()[:32] + '"'


async def read_status() -> dict[str, Any]:
    """Return the status document as ``SocketStatusView`` serves it now."""
    from .channel_layer import channel_layer_answers

    summary, source = await read_summary()
    return build_status(summary, active=await channel_layer_answers(), source=source)
