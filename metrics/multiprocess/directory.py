"""prometheus_client's multiprocess directory: find it, wipe it, and fold dead workers in.

Every worker writes its metrics to its own ``<type>_<pid>.db`` files there.
Live gauges of a dead worker are dropped by ``mark_process_dead``; its
counters and histograms must keep counting, so prometheus_client leaves their
files in place, and the directory grows with every worker restart. Here a dead
worker's counter, histogram and summary files are folded into one archive file
per metric type (``counter_archive.db``...), keeping the file count bounded.

Folding is exact: the dead process has been reaped, so its files are final;
adding its values key by key into the archive gives every series the same sum
the scrape would have computed from the separate files (prometheus_client
merges files by adding the same keys; histogram files hold per-bucket counts,
which add too). It is done under an exclusive lock on the directory, which
every scrape through ``metrics.collector.MultiProcessSocketCollector`` takes
shared, so a scrape sees the dead worker's file or the grown archive, never
both and never neither: counters never dip or jump.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
from collections.abc import Iterator

from prometheus_client import multiprocess, values
from prometheus_client.mmap_dict import MmapedDict

__all__ = [
    "ARCHIVED_TYPES",
    "archive_dead_worker",
    "directory_lock",
    "files_enabled",
    "metric_files",
    "multiprocess_dir",
    "prepare_directory",
]

# Metric types whose values outlive their process; live gauges do not.
ARCHIVED_TYPES = ("counter", "histogram", "summary")
_LOCK_NAME = ".vidai-archive.lock"


def multiprocess_dir() -> str | None:
    """Return prometheus_client's multiprocess directory, if one is configured."""
    # prometheus_client still honours the old lower-case name too.
    legacy = "prometheus_multiproc_dir"
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(legacy)


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


def metric_files(path: str) -> list[str]:
    """Return the metric files in the directory, the scrape's view of it."""
    return glob.glob(os.path.join(path, "*.db"))


def archive_dead_worker(pid: int, path: str | None = None) -> list[str]:
    """Drop a dead worker's live gauges and fold its other files into the archives.

    Call it only once the process has exited (gunicorn's ``child_exit``).
    Returns the metric types folded.
    """
    path = path or multiprocess_dir()
    if not path:
        raise ValueError("PROMETHEUS_MULTIPROC_DIR is not set")
    multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    folded = []
    with directory_lock(path, exclusive=True):
        for typ in ARCHIVED_TYPES:
            dead = os.path.join(path, f"{typ}_{pid}.db")
            if os.path.exists(dead):
                _fold(dead, os.path.join(path, f"{typ}_archive.db"))
                folded.append(typ)
    return folded


def _fold(dead: str, archive: str) -> None:
    totals: dict[str, float] = {}
    for source in (archive, dead):
        if os.path.exists(source):
            for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(source):  # type: ignore[no-untyped-call]
                totals[key] = totals.get(key, 0.0) + value
    # Build the new archive beside the old one (not *.db: no scrape globs it),
    # then swap it in atomically and drop the dead file, all under the lock.
    building = archive + ".building"
    with contextlib.suppress(FileNotFoundError):
        os.remove(building)
    merged = MmapedDict(building)  # type: ignore[no-untyped-call]
    try:
        for key, value in totals.items():
            merged.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        merged.close()  # type: ignore[no-untyped-call]
    os.replace(building, archive)
    os.remove(dead)
