"""The tracker's cost per socket: one ``opened`` and one ``closed`` call.

Anchored in the same run by a baseline of the least any exporter must do: a
bare ``Counter.labels(...).inc()`` for the open and another for the close.
An informational row repeats the pair with 100,000 other sockets open, since
the live registry's sorted lists grow with the open count. The three loops
run in short interleaved rounds and each keeps its fastest round: load from
elsewhere on the machine only ever adds time.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from . import SOCKET_TYPES, Result, fresh_tracker, time_per_call

TARGET_US = 10.0
ROUNDS = 21
PAIRS = 5_000
OPEN_BACKGROUND = 100_000


def _tracker_pair(open_background: int) -> Callable[[], None]:
    tracker = fresh_tracker()
    for i in range(open_background):
        tracker.opened(SOCKET_TYPES[i % len(SOCKET_TYPES)])
    opened, closed = tracker.opened, tracker.closed

    def pair() -> None:
        closed(opened("call"), code=1000, initiator="client")

    return pair


def _counter_pair() -> Callable[[], None]:
    registry = CollectorRegistry()
    opened = Counter("bench_opened", "Opened.", ["type"], registry=registry)
    closed = Counter("bench_closed", "Closed.", ["type", "reason", "initiator"], registry=registry)

    def pair() -> None:
        opened.labels(type="call").inc()
        closed.labels(type="call", reason="normal", initiator="client").inc()

    return pair


def run() -> list[Result]:
    """Measure microseconds per opened+closed pair, empty and with 100k sockets open."""
    loops = [_counter_pair(), _tracker_pair(0), _tracker_pair(OPEN_BACKGROUND)]
    for loop in loops:
        time_per_call(loop, PAIRS)  # warm-up: creates the lazily made counter children
    best = [float("inf")] * len(loops)
    for round_ in range(ROUNDS):
        # Rotate the order so that none always runs first.
        for index in [(round_ + k) % len(loops) for k in range(len(loops))]:
            best[index] = min(best[index], time_per_call(loops[index], PAIRS) * 1e6)
    baseline, empty, loaded = best
    results = []
    for name, pair, target in (
        ("2. opened+closed pair", empty, TARGET_US),
        ("2b. opened+closed pair, 100k open (info)", loaded, None),
    ):
        results.append(
            Result(
                benchmark=name,
                measured=f"{pair:.2f} us/pair ({pair / baseline:.2f}x baseline)",
                baseline=f"{baseline:.2f} us/pair: Counter.labels().inc() x2",
                figure=pair,
                unit="us",
                target=target,
            )
        )
    return results
