"""gunicorn server hooks for prometheus_client's multiprocess mode.

Import them in a gunicorn config file after setting ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client reads it when first imported)::

    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/run/vidai-metrics")
    from metrics.gunicorn import (
        child_exit, on_exit, on_starting, post_worker_init, when_ready, worker_exit,
    )

See this project's ``gunicorn.conf.py``. ``when_ready`` starts the host's
dedicated ``/metrics`` listener when ``VIDAI_METRICS["LISTEN"]`` is set (a
process of its own, ``python -m metrics.listener``: not a thread in the
master, which forks); ``on_exit`` stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from ..conf import multiprocess_dir
from ..multiprocess.directory import LISTENER_PROCESS, archive_dead_worker
from ..multiprocess.worker_files import WorkerFilePublisher

__all__ = [
    "child_exit",
    "on_exit",
    "on_starting",
    "post_worker_init",
    "when_ready",
    "worker_exit",
]

# The listener process this master started, if any.
_listener: subprocess.Popen[bytes] | None = None


def _directory() -> str:
    directory = multiprocess_dir()
    if not directory:
        raise RuntimeError("set PROMETHEUS_MULTIPROC_DIR before gunicorn loads its config")
    return directory


def on_starting(server: Any) -> None:
    """Master, before any worker: create the directory.

    The first process of a run removes an earlier run's files itself
    (``directory.join_run``); wiping here would also take a still running old
    master's (a USR2 upgrade) and the lock file its processes hold.
    """
    directory = _directory()
    os.makedirs(directory, exist_ok=True)
    server.log.info("prometheus multiprocess directory %s is ready", directory)


def post_worker_init(worker: Any) -> None:
    """Worker, app loaded: create the tracker, write its gauge files, start its refresh."""
    from ..conf import get_settings
    from ..core.tracker import default_tracker

    publisher = default_tracker().publisher
    if not isinstance(publisher, WorkerFilePublisher):
        raise RuntimeError("the default tracker is not writing worker files")
    # Started again here in case the tracker was made before the fork (preload_app).
    publisher.start(get_settings().worker_refresh_seconds)


def worker_exit(server: Any, worker: Any) -> None:
    """Worker, exiting: count the sockets it still holds as closed; write what the files lack."""
    from ..core.tracker import default_tracker
    from ..multiprocess import finish_worker

    finish_worker(default_tracker())


def child_exit(server: Any, worker: Any) -> None:
    """Master, worker reaped: drop its live gauges, fold its counters into the archives."""
    folded = archive_dead_worker(worker.pid, _directory())
    server.log.info("worker %s exited: live gauges dropped, folded %s", worker.pid, folded)


def when_ready(server: Any) -> None:
    """Master, listening: start the host's ``/metrics`` listener process.

    It reads the settings itself and exits at once when ``LISTEN`` is unset,
    so the master never loads Django; it exits too when the master is gone.
    """
    global _listener
    _directory()
    # The workers, forked after this, leave the listener to that process.
    os.environ[LISTENER_PROCESS] = "1"
    _listener = subprocess.Popen(  # noqa: S603  (our own module, no shell)
        [sys.executable, "-m", "metrics.listener", "--parent", str(os.getpid())]
    )


def on_exit(server: Any) -> None:
    """Master, exiting: stop the listener process."""
    if _listener is not None and _listener.poll() is None:
        _listener.terminate()
        try:
            _listener.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _listener.kill()
