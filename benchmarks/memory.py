"""Memory the tracker keeps per open socket, measured with ``tracemalloc``.

After a warm-up (every type's series and sorted list exist), the bytes still
allocated after opening 100,000 sockets are divided by 100,000. For scale,
the same measurement of a bare ``{i: i}`` dict of 100,000 ints is printed.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from . import SOCKET_TYPES, Result, fresh_tracker

TARGET_BYTES = 1024.0
OPEN = 100_000
WARM_UP = 1_000


def _retained_bytes(build: Callable[[], object]) -> tuple[int, object]:
    """Bytes still allocated after ``build()``, and its result (kept alive)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept


def run() -> list[Result]:
    """Measure retained bytes per socket opened through ``tracker.opened``."""
    tracker = fresh_tracker()
    for i in range(WARM_UP):
        key = tracker.opened(SOCKET_TYPES[i % len(SOCKET_TYPES)])
        tracker.closed(key, code=1000, initiator="client")

    def open_sockets() -> object:
        # No list of keys: the live registry keeps them, and a list would be counted.
        for i in range(OPEN):
            tracker.opened(SOCKET_TYPES[i % len(SOCKET_TYPES)])
        return None

    tracker_bytes, _ = _retained_bytes(open_sockets)
    if len(tracker.live) != OPEN:
        raise RuntimeError(f"expected {OPEN} open sockets, got {len(tracker.live)}")
    dict_bytes, kept = _retained_bytes(lambda: {i: i for i in range(OPEN)})
    del kept
    per_socket = tracker_bytes / OPEN
    return [
        Result(
            benchmark="4. registry memory per open socket",
            measured=f"{per_socket:.0f} B/socket ({tracker_bytes / 1e6:.1f} MB for 100k)",
            baseline=f"{dict_bytes / OPEN:.0f} B/entry, dict of 100k ints "
            f"({dict_bytes / 1e6:.1f} MB)",
            figure=per_socket,
            unit="B",
            target=TARGET_BYTES,
        )
    ]
