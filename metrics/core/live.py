"""The per-process set of open sockets, indexed so that scrapes stay cheap.

Start times are kept per type in sorted lists of integer nanoseconds: the
oldest socket and the age buckets are a few binary searches at scrape time,
whatever the number of sockets, and the age sum is exact.

Each open socket is held as a plain tuple of a string, integers and the user
id: the garbage collector stops tracking such a tuple at its first collection,
so 10,000s of open sockets add nothing to every later full collection.
``LiveSocket`` is made only for what reads them (a close, the staff listing).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sortedcontainers import SortedList

_NS = 1_000_000_000


class LiveSocket(NamedTuple):
    """One open socket: what the staff listing may show, nothing more."""

    key: Hashable
    type: str
    started_ns: int
    started_monotonic_ns: int
    user_id: str | None

    @property
    def started_at(self) -> float:
        """Unix time the socket was accepted."""
        return self.started_ns / _NS


@dataclass(frozen=True, slots=True)
class TypeSnapshot:
    """What a scrape reports for one socket type."""

    open: int
    oldest_start: float
    """Unix time of the oldest open socket; +Inf when none is open."""
    age_buckets: tuple[tuple[float, int], ...]
    """Cumulative (upper bound, count) pairs, the last bound +Inf."""
    age_sum: float


class LiveSockets:
    """Thread-safe registry of open sockets.

    >>> live = LiveSockets()
    >>> key = live.add("call")
    >>> live.count("call")
    1
    >>> live.discard(key).type
    'call'
    """

    def __init__(
        self,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._clock_ns = clock_ns
        self._monotonic_ns = monotonic_ns
        self._lock = threading.Lock()
        # key -> (type, started_ns, started_monotonic_ns, user_id): LiveSocket's
        # other fields, 72 B a socket.
        self._sockets: dict[Hashable, tuple[str, int, int, str | None]] = {}
        self._starts: dict[str, SortedList] = {}
        self._start_sums: dict[str, int] = {}
        self._keys = itertools.count(1)

    def add(
        self, socket_type: str, *, key: Hashable | None = None, user_id: str | None = None
    ) -> Hashable:
        """Record an accepted socket and return its key; a taken key raises KeyError."""
        started_ns = self._clock_ns()
        with self._lock:
            if key is None:
                key = next(self._keys)
            elif key in self._sockets:
                raise KeyError(f"socket {key!r} is already registered")
            self._sockets[key] = (socket_type, started_ns, self._monotonic_ns(), user_id)
            starts = self._starts.get(socket_type)
            if starts is None:
                starts = self._starts[socket_type] = SortedList()
                self._start_sums[socket_type] = 0
            starts.add(started_ns)
            self._start_sums[socket_type] += started_ns
        return key

    def discard(self, key: Hashable) -> LiveSocket | None:
        """Remove a socket; return it the first time, None after."""
        with self._lock:
            entry = self._sockets.pop(key, None)
            if entry is None:
                return None
            socket_type, started_ns = entry[0], entry[1]
            self._starts[socket_type].remove(started_ns)
            self._start_sums[socket_type] -= started_ns
        return LiveSocket(key, *entry)

    def lifetime(self, sock: LiveSocket) -> float:
        """Seconds since the socket was accepted, by the monotonic clock."""
        return max(0, self._monotonic_ns() - sock.started_monotonic_ns) / _NS

    def count(self, socket_type: str) -> int:
        """Return how many sockets of a type are open."""
        with self._lock:
            starts = self._starts.get(socket_type)
            return len(starts) if starts is not None else 0

    def type_state(self, socket_type: str) -> tuple[int, int | None, int]:
        """Return a type's open count, oldest start and summed start times (ns), in one lock."""
        with self._lock:
            starts = self._starts.get(socket_type)
            if not starts:
                return 0, None, 0
            return len(starts), starts[0], self._start_sums[socket_type]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sockets)

    def sockets(self) -> list[LiveSocket]:
        """Return a copy of the open sockets, oldest first."""
        with self._lock:  # a C-speed copy: opens and closes wait on this lock
            found = list(self._sockets.items())
        sockets = [LiveSocket(key, *entry) for key, entry in found]
        return sorted(sockets, key=lambda sock: sock.started_ns)

    def snapshot(
        self, types: Iterable[str], age_bounds: tuple[float, ...]
    ) -> dict[str, TypeSnapshot]:
        """Summarise each type now: count, oldest start and age buckets."""
        now_ns = self._clock_ns()
        bound_ns = [(bound, now_ns - int(bound * _NS)) for bound in age_bounds]
        result: dict[str, TypeSnapshot] = {}
        with self._lock:
            for socket_type in types:
                starts = self._starts.get(socket_type)
                count = len(starts) if starts is not None else 0
                if starts is None or count == 0:
                    buckets = tuple((bound, 0) for bound, _ in bound_ns)
                    result[socket_type] = TypeSnapshot(
                        0, float("inf"), (*buckets, (float("inf"), 0)), 0.0
                    )
                    continue
                # Age <= bound  <=>  started at or after now - bound.
                buckets = tuple(
                    (bound, count - starts.bisect_left(earliest)) for bound, earliest in bound_ns
                )
                age_sum_ns = count * now_ns - self._start_sums[socket_type]
                result[socket_type] = TypeSnapshot(
                    open=count,
                    oldest_start=starts[0] / _NS,
                    age_buckets=(*buckets, (float("inf"), count)),
                    age_sum=max(0, age_sum_ns) / _NS,
                )
        return result
