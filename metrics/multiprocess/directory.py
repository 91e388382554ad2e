"""prometheus_client's multiprocess directory: runs, workers, and folding the dead in.

Every worker writes its metrics to its own ``<type>_<pid>.db`` files there,
and a record ``.worker-<pid>`` of its start time (``processes``), so that a
pid reused by a later process is never taken for the worker that wrote.

A *run* is the set of workers alive at once. The first worker of a run (it
finds no other live writer) removes everything an earlier run left: nothing
of a previous server start is ever merged. Any server works (gunicorn,
``uvicorn --workers``, hypercorn, granian): no master process is needed.

A dead worker of the run is folded in by whoever notices first (a scrape,
a worker's refresh, the listener, gunicorn's ``child_exit``), exactly once,
under the directory's exclusive lock: its live gauges are dropped; the
sockets it accepted and never counted closed are counted closed as
``reason="worker_lost", initiator="server"`` (no lifetime observed: when
they ended is unknown); its counter, histogram and summary files are folded
into one archive file per metric type (``counter_archive.db``...), which
keeps the file count bounded. Folding is exact: the process is gone, so its
files are final, and adding them key by key into the archive gives every
series the sum the scrape would have computed from the separate files.
Scrapes read the files under the shared lock, so they see the dead worker's
files or the grown archive, never both and never neither.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import logging
import os
import re
from collections.abc import Iterator

from prometheus_client import multiprocess, values
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from ..conf import multiprocess_dir
from ..contract import CLOSED, HELP, OPENED
from ..label_values import SERVER, WORKER_LOST
from .processes import alive, start_ticks

logger = logging.getLogger(__name__)

__all__ = [
    "ARCHIVED_TYPES",
    "LISTENER_PROCESS",
    "archive_dead_worker",
    "directory_lock",
    "files_enabled",
    "fold_dead_workers",
    "join_run",
    "metric_files",
    "prepare_directory",
    "writers",
]

# Set in the environment the workers inherit when one process of its own
# (gunicorn's hook) serves the host's dedicated listener; else a worker does.
LISTENER_PROCESS = "VIDAI_METRICS_LISTENER_PROCESS"
# Metric types whose values outlive their process; live gauges do not.
ARCHIVED_TYPES = ("counter", "histogram", "summary")
_LOCK_NAME = ".vidai-archive.lock"
_RECORD_PREFIX = ".worker-"
# Files a fold writes beside the archive, and a dead file moved aside: no *.db.
_BUILDING = ".building"
_FOLDED = ".folded"
# The files a fold takes: what outlives its process, and the live gauges.
_WRITER_PREFIXES = (*(f"{typ}_" for typ in ARCHIVED_TYPES), "gauge_live")
# A writer's file: "<type>_<pid>.db" (archives end in "_archive.db").
_WRITER_FILE = re.compile(r".+_(\d+)\.db")


def files_enabled() -> bool:
    """Whether metric values created now are written to the multiprocess files.

    prometheus_client picks its value class when it is first imported: a
    directory configured after that import is silently ignored.
    """
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def prepare_directory(path: str) -> None:
    """Create the directory, or empty it of a previous run's files (call before any worker)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full) or os.path.islink(full):
            os.remove(full)


@contextlib.contextmanager
def directory_lock(path: str, *, exclusive: bool) -> Iterator[None]:
    """Hold the directory's archive lock: shared to read the files, exclusive to fold."""
    fd = os.open(os.path.join(path, _LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# prometheus_client's files start with an 8-byte header (bytes used, padding).
_HEADER_BYTES = 8


def metric_files(path: str) -> list[str]:
    """Return the metric files in the directory that hold values, the scrape's view of it.

    A process creating its file (prometheus_client opens it, then sizes it)
    leaves it empty for a moment; reading it then fails to parse the header.
    Such a file holds no value yet, so the scrape leaves it out.
    """
    found = []
    for name in glob.glob(os.path.join(path, "*.db")):
        with contextlib.suppress(FileNotFoundError):  # a live gauge's file, folded meanwhile
            if os.stat(name).st_size >= _HEADER_BYTES:
                found.append(name)
    return found


def writers(path: str) -> dict[int, int | None]:
    """Return the pids whose files a fold would take, with their recorded start times.

    Only records and the files folding handles (counters, histograms,
    summaries, live gauges) name a writer: another library's non-live gauge
    files (``gauge_all_<pid>.db``) stay where prometheus_client leaves them.
    """
    found: dict[int, int | None] = {}
    for name in os.listdir(path):
        if name.startswith(_RECORD_PREFIX):
            with contextlib.suppress(ValueError, OSError):
                pid = int(name[len(_RECORD_PREFIX) :])
                with open(os.path.join(path, name)) as record:
                    text = record.read().strip()
                found[pid] = int(text) if text else None
        elif (match := _WRITER_FILE.fullmatch(name)) and name.startswith(_WRITER_PREFIXES):
            found.setdefault(int(match[1]), None)
    return found


# The (pid, directory) this process joined, so a second call is a no-op.
_joined: tuple[int, str] | None = None


def join_run(path: str) -> bool:
    """Record this process as a writer; return True if it starts a new run.

    Call it before this process writes any metric (the app's ``ready()`` and
    the default tracker do). With no other live writer, every file here is
    an earlier run's and is removed; otherwise the run goes on and its dead
    workers are folded in. Every writer must see the others in ``/proc``:
    one user, one pid namespace.
    """
    global _joined
    me = os.getpid()
    if _joined == (me, path):
        return False
    os.makedirs(path, exist_ok=True)
    mine = start_ticks(me)
    with directory_lock(path, exclusive=True):
        _recover_folds(path)
        found = writers(path)
        others = {pid: started for pid, started in found.items() if pid != me}
        dead = [pid for pid, started in others.items() if not alive(pid, started)]
        fresh = len(dead) == len(others)
        # Files of this pid that this process does not map are an earlier
        # process's (prometheus_client maps its files for the process's life).
        earlier_mine = _unmapped_files_of(path, me)
        if fresh:
            _remove_earlier_run(path, {*dead, me} if earlier_mine else set(dead))
        else:
            for pid in dead:
                _fold_locked(pid, path)
            if earlier_mine:
                _fold_files(path, earlier_mine)
        with open(os.path.join(path, f"{_RECORD_PREFIX}{me}"), "w") as record:
            record.write("" if mine is None else str(mine))
    _joined = (me, path)
    return fresh


def _unmapped_files_of(path: str, pid: int) -> list[str]:
    mapped = _mapped_by_this_process()
    found = []
    for name in os.listdir(path):
        match = _WRITER_FILE.fullmatch(name)
        if match and int(match[1]) == pid:
            full = os.path.join(path, name)
            if os.path.realpath(full) in mapped:
                continue
            found.append(name)
    return found


def _remove_earlier_run(path: str, dead: set[int]) -> None:
    """Remove the archives and the dead writers' files; a worker starting meanwhile keeps its."""
    me = os.getpid()
    mapped = _mapped_by_this_process()
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if name.startswith(_RECORD_PREFIX):
            pid = name[len(_RECORD_PREFIX) :]
            if pid.isdigit() and int(pid) in dead:
                os.remove(full)
        elif match := _WRITER_FILE.fullmatch(name):
            pid_of_file = int(match[1])
            if pid_of_file in dead and not (pid_of_file == me and os.path.realpath(full) in mapped):
                os.remove(full)
        elif name.endswith(("_archive.db", _BUILDING, _FOLDED)):
            os.remove(full)


def _mapped_by_this_process() -> set[str]:
    mapped = set()
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6:
                mapped.add(fields[5].strip())
    return mapped


def fold_dead_workers(path: str) -> list[int]:
    """Fold in every writer that is gone; return their pids. Cheap when none is."""
    dead = [pid for pid, started in writers(path).items() if not alive(pid, started)]
    if not dead and not glob.glob(os.path.join(path, "*" + _FOLDED)):
        return []
    with directory_lock(path, exclusive=True):
        _recover_folds(path)
        # Again under the lock: another process may have folded them meanwhile.
        return [
            pid
            for pid, started in writers(path).items()
            if not alive(pid, started) and _fold_locked(pid, path)
        ]


def archive_dead_worker(pid: int, path: str | None = None) -> list[str]:
    """Fold in a worker known to have exited (gunicorn's ``child_exit``).

    Returns the metric types folded.
    """
    path = path or multiprocess_dir()
    if not path:
        raise ValueError("PROMETHEUS_MULTIPROC_DIR is not set")
    with directory_lock(path, exclusive=True):
        _recover_folds(path)
        return _fold_locked(pid, path)


def _fold_locked(pid: int, path: str) -> list[str]:
    """Fold a gone writer's files in; the caller holds the exclusive lock."""
    multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    folded = _fold_files(path, [f"{typ}_{pid}.db" for typ in ARCHIVED_TYPES])
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(path, f"{_RECORD_PREFIX}{pid}"))
    return folded


def _fold_files(path: str, names: list[str]) -> list[str]:
    """Fold the counter, histogram and summary files named into the archives."""
    folded = []
    for name in names:
        typ = name.split("_", 1)[0]
        dead = os.path.join(path, name)
        if typ in ARCHIVED_TYPES and os.path.exists(dead):
            extra = _lost_closes(dead) if typ == "counter" else {}
            _fold(dead, os.path.join(path, f"{typ}_archive.db"), extra)
            folded.append(typ)
        elif os.path.exists(dead):  # a live gauge of a process gone
            os.remove(dead)
    return folded


def _lost_closes(counter_file: str) -> dict[str, float]:
    """The closes a gone worker owes: per type, accepts its files count minus closes."""
    unclosed: dict[str, float] = {}
    for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(counter_file):  # type: ignore[no-untyped-call]
        metric, _sample, labels, _help = json.loads(key)
        if metric == OPENED:
            unclosed[labels["type"]] = unclosed.get(labels["type"], 0.0) + value
        elif metric == CLOSED:
            unclosed[labels["type"]] = unclosed.get(labels["type"], 0.0) - value
    return {
        mmap_key(
            CLOSED,
            CLOSED + "_total",
            ["type", "reason", "initiator"],
            [socket_type, WORKER_LOST, SERVER],
            HELP[CLOSED],
        ): count
        for socket_type, count in unclosed.items()
        if count > 0
    }


def _fold(dead: str, archive: str, extra: dict[str, float]) -> None:
    """Add ``dead`` (and ``extra``) into ``archive``; safe if the folder dies at any step.

    Under the exclusive lock: build the new archive beside the old one, move
    the dead file out of the scrape's view (``.folded``), swap the new
    archive in, drop the moved file. ``_recover_folds`` finishes or undoes
    what a folder killed midway left, before any other fold or scrape: the
    dead file is counted in the archive or in its own file, never both.
    """
    totals: dict[str, float] = dict(extra)
    for source in (archive, dead):
        if os.path.exists(source):
            for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(source):  # type: ignore[no-untyped-call]
                totals[key] = totals.get(key, 0.0) + value
    building = archive + _BUILDING
    with contextlib.suppress(FileNotFoundError):
        os.remove(building)
    merged = MmapedDict(building)  # type: ignore[no-untyped-call]
    try:
        for key, value in totals.items():
            merged.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        merged.close()  # type: ignore[no-untyped-call]
    os.replace(dead, dead + _FOLDED)  # from here on the new archive is the truth
    os.replace(building, archive)
    os.remove(dead + _FOLDED)


def _recover_folds(path: str) -> None:
    """Finish a fold whose folder died midway; the caller holds the exclusive lock."""
    names = os.listdir(path)
    for name in names:
        if name.endswith(_FOLDED):
            building = os.path.join(path, name.split("_", 1)[0] + "_archive.db" + _BUILDING)
            if os.path.exists(building):  # moved aside, archive not yet swapped: swap it
                os.replace(building, building[: -len(_BUILDING)])
            os.remove(os.path.join(path, name))
    for name in names:
        if name.endswith(_BUILDING):  # built, dead file never moved: folded again later
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(path, name))
