"""Multiprocess mode: bookkeeping per socket, and ``/metrics`` over 8 workers' files.

Workers are simulated in this process the way prometheus_client's own tests
do it: while a tracker makes its metrics, ``values.ValueClass`` is a
``MultiProcessValue`` with that worker's fixed process id, so every value it
writes lands in that worker's files in a temporary directory. Each such id is
a real (sleeping) process's, since a scrape folds in the files of processes
that are gone. Each figure is printed next to the one-process figure measured
in the same run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest, values
from prometheus_client.values import MultiProcessValue

from . import SOCKET_TYPES, Result, fresh_tracker, time_per_call

if TYPE_CHECKING:
    from metrics.core.tracker import SocketTracker

PAIR_TARGET_US = 16.0
RENDER_TARGET_MS = 50.0
ROUNDS = 21
PAIRS = 3_000
WORKERS = 8
OPEN_PER_WORKER = 1_000
RENDER_ROUNDS = 15
RENDERS = 5


@contextlib.contextmanager
def _worker_values(directory: str, pid: int) -> Iterator[None]:
    """Make metric values in ``directory``'s files of worker ``pid`` meanwhile."""
    saved = (os.environ.get("PROMETHEUS_MULTIPROC_DIR"), values.ValueClass)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = MultiProcessValue(lambda: pid)
    try:
        yield
    finally:
        if saved[0] is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved[0]
        values.ValueClass = saved[1]


def worker_tracker_in(directory: str, pid: int) -> SocketTracker:
    """Return a tracker writing worker ``pid``'s files in ``directory``, as under ``--workers``."""
    from metrics.multiprocess import worker_tracker

    with _worker_values(directory, pid):
        return worker_tracker(CollectorRegistry(), types=SOCKET_TYPES)


def _pair(tracker: SocketTracker) -> Callable[[], None]:
    opened, closed = tracker.opened, tracker.closed

    def pair() -> None:
        closed(opened("call"), code=1000, initiator="client")

    return pair


def _bookkeeping(directory: str) -> list[Result]:
    loops = [_pair(fresh_tracker()), _pair(worker_tracker_in(directory, 1))]
    for loop in loops:
        time_per_call(loop, PAIRS)  # warm-up
    best = [float("inf")] * len(loops)
    for round_ in range(ROUNDS):
        for index in [(round_ + k) % len(loops) for k in range(len(loops))]:
            best[index] = min(best[index], time_per_call(loops[index], PAIRS) * 1e6)
    single, multi = best
    return [
        Result(
            benchmark="5. opened+closed pair, multiprocess files",
            measured=f"{multi:.2f} us/pair ({multi / single:.2f}x one process)",
            baseline=f"{single:.2f} us/pair: one process (in-memory values)",
            figure=multi,
            unit="us",
            target=PAIR_TARGET_US,
        )
    ]


def _render(directory: str) -> list[Result]:
    with _sleepers(WORKERS) as pids:
        return _render_workers(directory, pids)


@contextlib.contextmanager
def _sleepers(count: int) -> Iterator[list[int]]:
    """Live processes whose pids the simulated workers borrow."""
    sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(count)]
    try:
        yield [sleeper.pid for sleeper in sleepers]
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def _render_workers(directory: str, pids: list[int]) -> list[Result]:
    from metrics.multiprocess import MultiProcessSocketCollector, WorkerFilePublisher

    single = fresh_tracker()
    for i in range(WORKERS * OPEN_PER_WORKER):
        single.opened(SOCKET_TYPES[i % len(SOCKET_TYPES)])
    for pid in pids:
        worker = worker_tracker_in(directory, pid)
        for i in range(OPEN_PER_WORKER):
            worker.opened(SOCKET_TYPES[i % len(SOCKET_TYPES)])
        assert isinstance(worker.publisher, WorkerFilePublisher)
        worker.publisher.refresh()
    merged = CollectorRegistry()
    merged.register(MultiProcessSocketCollector(directory))
    total = sum(
        merged.get_sample_value("vidai_websocket_connections", {"type": t}) or 0.0
        for t in SOCKET_TYPES
    )
    if total != WORKERS * OPEN_PER_WORKER:
        raise RuntimeError(f"expected {WORKERS * OPEN_PER_WORKER} open sockets, got {total}")

    def render_single() -> None:
        generate_latest(single.registry)

    def render_merged() -> None:
        generate_latest(merged)

    best_single = min(time_per_call(render_single, RENDERS) for _ in range(RENDER_ROUNDS))
    best_merged = min(time_per_call(render_merged, RENDERS) for _ in range(RENDER_ROUNDS))
    files = len(os.listdir(directory))
    return [
        Result(
            benchmark=f"6. /metrics render, {WORKERS} workers' files",
            measured=(
                f"{best_merged * 1e3:.2f} ms/render, {len(generate_latest(merged))} bytes "
                f"({files} files, {WORKERS * OPEN_PER_WORKER} open)"
            ),
            baseline=(
                f"{best_single * 1e3:.2f} ms/render, {len(generate_latest(single.registry))} "
                f"bytes: one process, same open count"
            ),
            figure=best_merged * 1e3,
            unit="ms",
            target=RENDER_TARGET_MS,
        )
    ]


def run() -> list[Result]:
    """Measure a pair's bookkeeping and a render in multiprocess mode, each beside one process."""
    results = []
    for measure in (_bookkeeping, _render):
        with tempfile.TemporaryDirectory(prefix="vidai-bench-multiproc-") as directory:
            try:
                results += measure(directory)
            finally:
                values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]
    return results
