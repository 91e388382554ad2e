"""Many workers on one host: prometheus_client's multiprocess mode.

The first tests run in this process: each simulated worker is a tracker whose
values go to its own files, as prometheus_client's own tests do it (a
``MultiProcessValue`` with a fixed process id, swapped in while the tracker
makes its metrics). Each such id is a real process's (a sleeping child), so
that a scrape, which folds in the files of processes that are gone, sees it
alive until the test ends it. A real gunicorn's workers are tested with the demo
(``tests/demo/test_gunicorn_workers.py``).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from prometheus_client import CollectorRegistry, generate_latest, values
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.values import MultiProcessValue

from metrics.core.frames import FrameTable
from metrics.core.handshakes import HandshakeTable
from metrics.core.instruments import HANDSHAKE
from metrics.core.live import LiveSockets
from metrics.core.tracker import SocketTracker
from metrics.http.summary import summarize
from metrics.multiprocess import (
    MultiProcessSocketCollector,
    WorkerFilePublisher,
    archive_dead_worker,
    finish_worker,
    join_run,
    prepare_directory,
    worker_tracker,
)
from metrics.multiprocess.processes import alive, start_ticks

from ..routing import TYPES

OPEN = "vidai_websocket_connections"
OPENED = "vidai_websocket_connections_opened_total"
NS = 1_000_000_000


class FakeClock:
    """Wall clock and monotonic clock moving together, by hand."""

    def __init__(self) -> None:
        self.ns = 1_700_000_000 * NS

    def wall_ns(self) -> int:
        return self.ns

    def monotonic_ns(self) -> int:
        return self.ns

    def seconds(self) -> float:
        return self.ns / NS

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * NS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A multiprocess directory for this test; values made meanwhile go to its files."""
    path = tmp_path / "multiproc"
    path.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
    monkeypatch.setattr(values, "ValueClass", MultiProcessValue(os.getpid))
    yield path
    values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]


class Processes:
    """Real processes whose pids name simulated workers: alive until ended."""

    def __init__(self) -> None:
        self._running: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(self) -> int:
        process = subprocess.Popen(["sleep", "300"])
        self._running[process.pid] = process
        return process.pid

    def end(self, pid: int) -> None:
        process = self._running.pop(pid)
        process.kill()
        process.wait()

    def end_all(self) -> None:
        for pid in list(self._running):
            self.end(pid)


@pytest.fixture
def processes() -> Iterator[Processes]:
    running = Processes()
    yield running
    running.end_all()


def make_worker(pid: int, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> SocketTracker:
    """A tracker writing the files of worker ``pid``: every series it has is made here."""
    previous = values.ValueClass
    monkeypatch.setattr(values, "ValueClass", MultiProcessValue(lambda: pid))
    try:
        return worker_tracker(
            CollectorRegistry(),
            types=TYPES,
            live=LiveSockets(clock.wall_ns, clock.monotonic_ns),
        )
    finally:
        monkeypatch.setattr(values, "ValueClass", previous)


def make_single(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> SocketTracker:
    """A one-process tracker (in-memory values), for comparison."""
    previous = values.ValueClass
    monkeypatch.setattr(values, "ValueClass", values.MutexValue)
    try:
        return SocketTracker(
            CollectorRegistry(),
            types=TYPES,
            live=LiveSockets(clock.wall_ns, clock.monotonic_ns),
        )
    finally:
        monkeypatch.setattr(values, "ValueClass", previous)


def merged(directory: Path, clock: FakeClock) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(MultiProcessSocketCollector(str(directory), clock=clock.seconds))
    return registry


def shape(registry: CollectorRegistry) -> dict[tuple[str, str], set[tuple[str, frozenset[str]]]]:
    """Each vidai_ family's (name, type) and its samples' names and label names."""
    text = generate_latest(registry).decode()
    found: dict[tuple[str, str], set[tuple[str, frozenset[str]]]] = {}
    for family in text_string_to_metric_families(text):
        # One process adds _created series; the files never have them.
        if family.name.startswith("vidai_") and not family.name.endswith("_created"):
            found[(family.name, family.type)] = {
                (s.name, frozenset(s.labels)) for s in family.samples if "_created" not in s.name
            }
    return found


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in registry.collect()
        if family.name.startswith("vidai_")
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_files_and_one_process_expose_the_same_contract(
    directory, clock, monkeypatch, processes
) -> None:
    single = make_single(clock, monkeypatch)
    worker = make_worker(processes.spawn(), clock, monkeypatch)
    for tracker in (single, worker):
        old = tracker.opened("call")
        clock.advance(100)
        tracker.opened("call")
        short = tracker.opened("stt")
        tracker.closed(short, code=1000, initiator="client")
        tracker.rejected("stt_admin", "denied")
        counts = tracker.frame_counts("call")
        counts.received, counts.received_bytes, counts.sent, counts.sent_bytes = 3, 30, 2, 20
        tracker.handshake_done("call", 0.004)
        tracker.handshake_done("unknown", 20.0)  # past the last bound: +Inf only
        clock.advance(20)
        tracker.closed(old, code=1006, initiator="client")
        clock.advance(-120)  # the second tracker lives the same history
    clock.advance(120)
    assert isinstance(worker.publisher, WorkerFilePublisher)
    worker.publisher.refresh()
    files = merged(directory, clock)

    refresh = ("vidai_websocket_worker_refresh_time_seconds", "gauge")
    files_shape = shape(files)
    assert files_shape.pop(refresh) == {
        ("vidai_websocket_worker_refresh_time_seconds", frozenset({"pid"}))
    }
    assert files_shape == shape(single.registry)
    expected = samples(single.registry)
    actual = samples(files)
    gsum = ("vidai_websocket_connection_age_seconds_gsum", frozenset({("type", "call")}))
    assert actual.pop(gsum) == pytest.approx(expected.pop(gsum), abs=1e-3)
    actual = {key: v for key, v in actual.items() if not key[0].startswith(refresh[0])}
    assert actual == expected


def test_totals_and_the_json_summary_add_up_over_workers(
    directory, clock, monkeypatch, processes
) -> None:
    workers = [make_worker(processes.spawn(), clock, monkeypatch) for _ in range(3)]
    opened = {"call": [2, 0, 3], "stt_room": [1, 1, 0]}
    for socket_type, per_worker in opened.items():
        for tracker, count in zip(workers, per_worker, strict=True):
            for _ in range(count):
                tracker.opened(socket_type)
                clock.advance(1)
    registry = merged(directory, clock)  # no refresh: open and close publish at once
    for socket_type, per_worker in opened.items():
        assert registry.get_sample_value(OPEN, {"type": socket_type}) == sum(per_worker)
        assert registry.get_sample_value(OPENED, {"type": socket_type}) == sum(per_worker)
    summary = summarize(registry)
    assert summary.counts == {"call": 5, "stt": 0, "stt_room": 2, "stt_sales": 0, "stt_admin": 0}
    assert summary.oldest_start["call"] == 1_700_000_000.0
    assert summary.oldest_start["stt_room"] == 1_700_000_005.0
    assert summary.oldest_start["stt"] is None
    age = "vidai_websocket_connection_age_seconds"
    assert registry.get_sample_value(age + "_gcount", {"type": "call"}) == 5


def test_a_file_a_process_is_creating_right_now_is_left_out_of_the_scrape(
    directory, clock, monkeypatch, processes
) -> None:
    """prometheus_client opens a new file, then sizes it: empty for a moment, nothing in it."""
    worker = make_worker(processes.spawn(), clock, monkeypatch)
    worker.opened("call")
    (directory / f"counter_{processes.spawn()}.db").touch()  # a worker starting this instant
    (directory / f"gauge_livesum_{processes.spawn()}.db").write_bytes(b"\x00" * 4)
    registry = merged(directory, clock)
    assert registry.get_sample_value(OPEN, {"type": "call"}) == 1
    assert registry.get_sample_value(OPENED, {"type": "call"}) == 1


def test_the_json_summary_merges_the_files_at_most_once_per_refresh_interval(
    directory, clock, monkeypatch, processes
) -> None:
    from metrics.http.exposition import MergedSummary

    worker = make_worker(processes.spawn(), clock, monkeypatch)
    merges = []

    def registry() -> CollectorRegistry:
        merges.append(clock.seconds())
        return merged(directory, clock)

    summaries = MergedSummary(registry, clock=clock.seconds)
    assert summaries.fresh(1.0) is None
    assert summaries.read(1.0).counts["call"] == 0
    worker.opened("call")
    clock.advance(0.5)
    assert summaries.fresh(1.0) is summaries.read(1.0)  # within the interval: the same
    assert summaries.read(1.0).counts["call"] == 0
    clock.advance(0.5)
    assert summaries.fresh(1.0) is None
    assert summaries.read(1.0).counts["call"] == 1  # an interval after the merge: merged again
    assert len(merges) == 2


def test_frames_reach_the_files_at_each_refresh_and_only_once(
    directory, clock, monkeypatch, processes
):
    worker = make_worker(processes.spawn(), clock, monkeypatch)
    assert isinstance(worker.publisher, WorkerFilePublisher)
    received = {"type": "call", "direction": "received"}
    counts = worker.frame_counts("call")
    counts.received += 3
    counts.received_bytes += 30
    # In the worker's own registry at once; in the files at the next refresh (1 s).
    assert worker.registry.get_sample_value("vidai_websocket_messages_total", received) == 3
    assert (
        merged(directory, clock).get_sample_value("vidai_websocket_messages_total", received) == 0
    )
    worker.publisher.refresh()
    files = merged(directory, clock)
    assert files.get_sample_value("vidai_websocket_messages_total", received) == 3
    assert files.get_sample_value("vidai_websocket_message_bytes_total", received) == 30
    counts.received += 2
    worker.publisher.refresh()
    worker.publisher.refresh()  # nothing new: nothing added twice
    assert (
        merged(directory, clock).get_sample_value("vidai_websocket_messages_total", received) == 5
    )


def test_handshakes_from_every_worker_reach_the_files_at_each_refresh_and_only_once(
    directory, clock, monkeypatch, processes
):
    workers = [make_worker(processes.spawn(), clock, monkeypatch) for _ in range(2)]
    bucket = HANDSHAKE + "_bucket"
    for tracker, seconds in zip(workers, (0.003, 0.2), strict=True):
        tracker.handshake_done("stt", seconds)
        # In the worker's own registry at once; in the files at the next refresh (1 s).
        assert tracker.registry.get_sample_value(bucket, {"type": "stt", "le": "+Inf"}) == 1
    assert merged(directory, clock).get_sample_value(bucket, {"type": "stt", "le": "+Inf"}) == 0
    for tracker in workers:
        assert isinstance(tracker.publisher, WorkerFilePublisher)
        tracker.publisher.refresh()
        tracker.publisher.refresh()  # nothing new: nothing added twice
    files = merged(directory, clock)
    assert files.get_sample_value(bucket, {"type": "stt", "le": "0.001"}) == 0
    assert files.get_sample_value(bucket, {"type": "stt", "le": "0.005"}) == 1
    assert files.get_sample_value(bucket, {"type": "stt", "le": "0.25"}) == 2
    assert files.get_sample_value(HANDSHAKE + "_count", {"type": "stt"}) == 2
    assert files.get_sample_value(HANDSHAKE + "_sum", {"type": "stt"}) == pytest.approx(0.203)
    # The catch-all's type is there at 0 before its first handshake.
    assert files.get_sample_value(HANDSHAKE + "_count", {"type": "unknown"}) == 0


def test_the_catch_alls_handshakes_are_in_the_files_before_any_refresh(
    directory, clock, monkeypatch, processes
):
    make_worker(processes.spawn(), clock, monkeypatch)
    files = merged(directory, clock)
    assert files.get_sample_value(HANDSHAKE + "_count", {"type": "unknown"}) == 0
    assert files.get_sample_value(HANDSHAKE + "_count", {"type": "call"}) == 0


def test_closing_an_old_socket_moves_the_age_buckets_at_once(
    directory, clock, monkeypatch, processes
):
    worker = make_worker(processes.spawn(), clock, monkeypatch)
    assert isinstance(worker.publisher, WorkerFilePublisher)
    bucket = "vidai_websocket_connection_age_seconds_bucket"
    old = worker.opened("call")
    clock.advance(30)
    worker.opened("call")
    # Time moved a socket past the 10 s bound: only the refresh tick sees that.
    assert merged(directory, clock).get_sample_value(bucket, {"type": "call", "le": "10.0"}) == 2
    worker.publisher.refresh()
    assert merged(directory, clock).get_sample_value(bucket, {"type": "call", "le": "10.0"}) == 1
    # A close is published at once, ages included.
    worker.closed(old, code=1000, initiator="client")
    registry = merged(directory, clock)
    assert registry.get_sample_value(bucket, {"type": "call", "le": "10.0"}) == 1
    assert registry.get_sample_value(bucket, {"type": "call", "le": "+Inf"}) == 1
    assert registry.get_sample_value(OPEN, {"type": "call"}) == 1
    gsum = "vidai_websocket_connection_age_seconds_gsum"
    assert registry.get_sample_value(gsum, {"type": "call"}) == pytest.approx(0.0, abs=1e-3)


CLOSED = "vidai_websocket_connections_closed_total"


def lost(registry: CollectorRegistry, socket_type: str) -> float | None:
    labels = {"type": socket_type, "reason": "worker_lost", "initiator": "server"}
    return registry.get_sample_value(CLOSED, labels)


def balance(registry: CollectorRegistry, socket_type: str) -> tuple[float, float]:
    """(opened - closed, open) for a type, from one collection."""
    found = samples(registry)
    opened = found[(OPENED, frozenset({("type", socket_type)}))]
    closed = sum(
        v
        for (name, labels), v in found.items()
        if name == CLOSED and ("type", socket_type) in labels
    )
    # With every worker gone no live gauge is left: none open.
    return opened - closed, found.get((OPEN, frozenset({("type", socket_type)})), 0.0)


def test_a_dead_worker_is_folded_exactly_once_and_its_open_sockets_closed(
    directory, clock, monkeypatch, processes
) -> None:
    alive_pid, dead_pid = processes.spawn(), processes.spawn()
    alive, dead = (
        make_worker(alive_pid, clock, monkeypatch),
        make_worker(dead_pid, clock, monkeypatch),
    )
    for tracker in (alive, dead, dead):
        tracker.handshake_done("call", 0.02)
        key = tracker.opened("call")
        clock.advance(3.5)
        tracker.closed(key, code=1001, initiator="client")
        tracker.opened("stt")
    for tracker in (alive, dead):
        assert isinstance(tracker.publisher, WorkerFilePublisher)
        tracker.publisher.refresh()
    before = samples(merged(directory, clock))
    assert before[(OPEN, frozenset({("type", "stt")}))] == 3
    assert before[(HANDSHAKE + "_count", frozenset({("type", "call")}))] == 3

    processes.end(dead_pid)  # SIGKILL: no exit hook ran
    after = samples(merged(directory, clock))  # the scrape notices and folds
    # Its two open sockets leave the gauge and are counted closed by the
    # server as worker_lost, with no lifetime; everything else is unchanged.
    assert after.pop((OPEN, frozenset({("type", "stt")}))) == 1
    worker_lost = (
        CLOSED,
        frozenset({("type", "stt"), ("reason", "worker_lost"), ("initiator", "server")}),
    )
    assert after.pop(worker_lost) == 2
    assert before.pop(worker_lost) == 0
    gsum = ("vidai_websocket_connection_age_seconds_gsum", frozenset({("type", "stt")}))
    del after[gsum], before[gsum]  # ages: the clock is the same, the sockets not
    changed = {key for key in after if after[key] != before.get(key)}
    assert all("connection_age" in name or "refresh" in name for name, _ in changed), changed
    assert {k: v for k, v in before.items() if k[0].endswith(("_total", "_sum", "_count"))} == {
        k: v for k, v in after.items() if k[0].endswith(("_total", "_sum", "_count"))
    }
    assert not any(name.endswith(f"_{dead_pid}.db") for name in os.listdir(directory))
    assert {"counter_archive.db", "histogram_archive.db"} <= set(os.listdir(directory))
    # Noticed again (gunicorn's child_exit, another scrape): nothing more.
    assert archive_dead_worker(dead_pid, str(directory)) == []
    again = merged(directory, clock)
    assert lost(again, "stt") == 2
    assert balance(again, "stt") == (1, 1)


def test_scrapes_during_folds_never_count_a_dead_worker_twice_or_not_at_all(
    directory, clock, monkeypatch, processes
) -> None:
    pids = [processes.spawn() for _ in range(12)]
    for pid in pids:
        worker = make_worker(pid, clock, monkeypatch)
        worker.opened("call")
        worker.closed(worker.opened("call"), code=1000, initiator="client")
    balances: list[tuple[float, float]] = []
    stop = threading.Event()

    def scrape() -> None:  # each scrape folds whatever it finds dead
        while not stop.is_set():
            registry = merged(directory, clock)
            balances.append(balance(registry, "call"))
            assert registry.get_sample_value(OPENED, {"type": "call"}) == 2 * len(pids)

    scrapers = [threading.Thread(target=scrape) for _ in range(2)]
    for thread in scrapers:
        thread.start()
    try:
        for pid in pids:
            processes.end(pid)
            archive_dead_worker(pid, str(directory))  # as gunicorn's child_exit, racing them
    finally:
        stop.set()
        for thread in scrapers:
            thread.join(timeout=10)
    assert balances
    assert all(unclosed == open for unclosed, open in balances), set(balances)
    final = merged(directory, clock)
    assert lost(final, "call") == len(pids)
    assert balance(final, "call") == (0, 0)


def test_the_first_worker_of_a_run_removes_an_earlier_runs_files(
    directory, clock, monkeypatch, processes
) -> None:
    earlier = processes.spawn()
    make_worker(earlier, clock, monkeypatch).opened("call")
    join_run_as(earlier, directory)
    archive_dead_worker(earlier, str(directory))  # an earlier run's archive
    processes.end(earlier)
    assert "counter_archive.db" in os.listdir(directory)

    first, second = processes.spawn(), processes.spawn()
    assert join_run_as(first, directory) is True  # nobody alive: a new run
    make_worker(first, clock, monkeypatch).opened("call")
    assert join_run_as(second, directory) is False  # first is alive: same run
    assert join_run_as(second, directory) is False  # joined already
    registry = merged(directory, clock)
    assert registry.get_sample_value(OPENED, {"type": "call"}) == 1
    assert lost(registry, "call") == 0
    assert not any(str(earlier) in name for name in os.listdir(directory))


def test_a_reused_pid_is_not_the_worker_that_wrote(
    directory, clock, monkeypatch, processes
) -> None:
    pid = processes.spawn()
    make_worker(pid, clock, monkeypatch).opened("stt")
    join_run_as(pid, directory, started=1)  # an earlier process with this pid
    registry = merged(directory, clock)
    assert registry.get_sample_value(OPEN, {"type": "stt"}) is None  # its live gauge dropped
    assert lost(registry, "stt") == 1


def test_a_worker_finishing_counts_what_it_holds_as_closed_by_the_server(
    directory, clock, monkeypatch, processes
) -> None:
    worker = make_worker(processes.spawn(), clock, monkeypatch)
    worker.opened("call")
    worker.opened("call")
    clock.advance(40)
    assert finish_worker(worker) == 2
    assert finish_worker(worker) == 0
    registry = merged(directory, clock)
    going_away = {"type": "call", "reason": "going_away", "initiator": "server"}
    assert registry.get_sample_value(CLOSED, going_away) == 2
    assert balance(registry, "call") == (0, 0)
    # Their lifetimes are known, unlike a lost worker's.
    duration = "vidai_websocket_connection_duration_seconds"
    assert registry.get_sample_value(duration + "_count", {"type": "call"}) == 2
    assert registry.get_sample_value(duration + "_sum", {"type": "call"}) == pytest.approx(80)


class Died(BaseException):
    """A folder's process ending at this point (os._exit, SIGKILL)."""


@pytest.mark.parametrize("dies_at", ["before the archive is swapped", "after it is swapped"])
def test_a_folder_dying_midway_leaves_the_dead_worker_counted_once(
    directory, clock, monkeypatch, processes, dies_at
) -> None:
    live_pid, dead_pid = processes.spawn(), processes.spawn()
    make_worker(live_pid, clock, monkeypatch).opened("call")
    dead = make_worker(dead_pid, clock, monkeypatch)
    for _ in range(3):
        dead.opened("call")
    dead.closed(dead.opened("call"), code=1000, initiator="client")
    processes.end(dead_pid)
    real_replace, real_remove = os.replace, os.remove

    def replace(src: str, dst: str) -> None:
        if dies_at.startswith("before") and src.endswith(".building"):
            raise Died  # the dead file is moved aside, the archive not yet swapped
        real_replace(src, dst)

    def remove(target: str) -> None:
        if dies_at.startswith("after") and target.endswith(".folded"):
            raise Died  # the archive holds it, the moved file is still there
        real_remove(target)

    with (
        mock.patch("metrics.multiprocess.directory.os.replace", replace),
        mock.patch("metrics.multiprocess.directory.os.remove", remove),
        pytest.raises(Died),
    ):
        archive_dead_worker(dead_pid, str(directory))
    for _ in range(2):  # the next scrape finishes the fold; the one after adds nothing
        registry = merged(directory, clock)
        assert registry.get_sample_value(OPENED, {"type": "call"}) == 5
        assert lost(registry, "call") == 3
        assert balance(registry, "call") == (1, 1)
    assert not [name for name in os.listdir(directory) if name.endswith((".folded", ".building"))]


def test_an_earlier_process_with_this_pid_is_folded_into_the_run(
    directory, clock, monkeypatch, processes
) -> None:
    make_worker(processes.spawn(), clock, monkeypatch).opened("call")  # the run goes on
    reused = processes.spawn()
    earlier = make_worker(reused, clock, monkeypatch)
    earlier.opened("stt")
    earlier.opened("stt")
    join_run_as(reused, directory, started=1)  # it joined, then died unnoticed
    values.close_all_multiprocess_files()  # its files are no longer this process's
    # A new process gets its pid and joins: the earlier one's files are folded, not lost.
    assert join_run_as(reused, directory) is False
    registry = merged(directory, clock)
    assert registry.get_sample_value(OPENED, {"type": "stt"}) == 2
    assert lost(registry, "stt") == 2
    assert balance(registry, "stt") == (0, 0)


def test_without_proc_a_pid_that_exists_is_alive(monkeypatch, processes) -> None:
    monkeypatch.setattr("metrics.multiprocess.processes._PROC", False)
    pid = processes.spawn()
    assert alive(pid, None)
    assert alive(pid, 12345)  # start times are unknown there
    processes.end(pid)
    assert not alive(pid, None)


def join_run_as(pid: int, directory: Path, *, started: int | None = None) -> bool:
    """join_run as process ``pid`` would (its start time, or ``started``)."""
    ticks = start_ticks(pid) if started is None else started
    with (
        mock.patch("metrics.multiprocess.directory.os.getpid", return_value=pid),
        mock.patch("metrics.multiprocess.directory.start_ticks", return_value=ticks),
        mock.patch("metrics.multiprocess.directory._joined", None),
    ):
        return join_run(str(directory))


def test_worker_gauges_refuse_a_directory_set_after_import(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="before prometheus_client is imported"):
        WorkerFilePublisher(
            LiveSockets(),
            (10.0,),
            frames=FrameTable(),
            handshakes=HandshakeTable(),
            duration_bounds=(1.0,),
        )


def test_refresh_thread_stamps_the_worker_and_stops(directory, monkeypatch) -> None:
    tracker = worker_tracker(CollectorRegistry(), types=("call",))
    gauges = tracker.publisher
    assert isinstance(gauges, WorkerFilePublisher)
    gauges.start(0.02)
    gauges.start(0.02)  # idempotent in one process
    try:
        registry = merged(directory, FakeClock())
        for _ in range(200):
            stamp = registry.get_sample_value(
                "vidai_websocket_worker_refresh_time_seconds", {"pid": str(os.getpid())}
            )
            if stamp:
                break
            threading.Event().wait(0.01)
        assert stamp
    finally:
        gauges.stop()


def test_prepare_directory_empties_a_previous_run(tmp_path) -> None:
    path = tmp_path / "multiproc"
    path.mkdir()
    (path / "counter_123.db").write_bytes(b"old")
    prepare_directory(str(path))
    assert os.listdir(path) == []
    prepare_directory(str(tmp_path / "new"))
    assert (tmp_path / "new").is_dir()
