"""Where ``/metrics`` and the status JSON read, decided in one place for the process.

One process reads its tracker's registry, at every request, on the event loop
(a few binary searches under the tracker's lock). Several workers
(``PROMETHEUS_MULTIPROC_DIR``) read every worker's files, merged under the
directory's lock, off the event loop; the status JSON reuses one merge per
``WORKER_REFRESH_SECONDS``. Callers ask ``exposition()`` and never branch on
the mode themselves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from prometheus_client import CollectorRegistry

from ..conf import get_settings, multiprocess_dir, on_settings_change
from ..core.tracker import default_tracker
from .summary import SocketSummary, summarize

__all__ = ["Exposition", "MergedSummary", "exposed_registry", "exposition"]

_T = TypeVar("_T")


class Exposition(Protocol):
    """What this process exposes, and how to read it without stalling the event loop."""

    @property
    def source(self) -> str:
        """The status JSON's ``source``: ``process`` or ``multiprocess``."""
        ...

    def registry(self) -> CollectorRegistry:
        """The registry ``/metrics`` renders and the status JSON summarises."""
        ...

    async def read(self, reader: Callable[[], _T]) -> _T:
        """Run ``reader`` (which reads ``registry()``) where this mode should."""
        ...

    async def summary(self) -> SocketSummary:
        """The open counts and oldest starts the status JSON shows."""
        ...


class _ThisProcess:
    source = "process"

    def registry(self) -> CollectorRegistry:
        return default_tracker().registry

    async def read(self, reader: Callable[[], _T]) -> _T:
        return reader()

    async def summary(self) -> SocketSummary:
        # Exact at every request, as /metrics is.
        return summarize(self.registry())


class _EveryWorker:
    source = "multiprocess"

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def registry(self) -> CollectorRegistry:
        # Imported here: one process never loads prometheus_client's multiprocess code.
        from ..multiprocess import merged_registry

        return merged_registry(self.directory)

    async def read(self, reader: Callable[[], _T]) -> _T:
        # Every worker's files, read under a lock: not on the event loop.
        return await asyncio.to_thread(reader)

    async def summary(self) -> SocketSummary:
        max_age = get_settings().worker_refresh_seconds
        summary = _merged.fresh(max_age)
        if summary is None:
            summary = await asyncio.to_thread(_merged.read, max_age)
        return summary


_THIS_PROCESS = _ThisProcess()


def exposition() -> Exposition:
    """Return this process's exposition: its own registry, or every worker's files."""
    directory = multiprocess_dir()
    return _EveryWorker(directory) if directory else _THIS_PROCESS


def exposed_registry() -> CollectorRegistry:
    """Return the registry to expose: every worker's files, or this process's registry."""
    return exposition().registry()


class MergedSummary:
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


_merged = MergedSummary()
on_settings_change(_merged.forget)
