"""Which ASGI server runs this process, and whether it is one worker of several.

Prometheus cannot tell servers apart by their samples, and some report close
codes wrongly (hypercorn passes 1006 to the app for clean closes): the
exported ``vidai_websocket_server_info{server=...}`` lets rules tell them
apart. Several workers without multiprocess mode count separately, each
scrape reaching one of them: that is logged as an error at startup.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..contract import HELP, SERVER_INFO
from ..label_values import UNKNOWN_SERVER

logger = logging.getLogger(__name__)

__all__ = ["SERVERS", "SERVER_INFO", "ServerInfoCollector", "server_name", "warn_unmerged_workers"]

SERVER_INFO_HELP = HELP[SERVER_INFO]
# The servers the product knows (label_values.SERVER_NAMES), each by modules
# only its serving process loads; the most specific first (a granian or
# hypercorn process may import uvicorn too). Not daphne.server: Channels asks
# for "daphne" in INSTALLED_APPS, whose app config imports it everywhere.
SERVERS: dict[str, tuple[str, ...]] = {
    "granian": ("granian.server",),
    "hypercorn": ("hypercorn.config",),
    "daphne": ("daphne.cli", "daphne.management.commands.runserver"),
    "uvicorn": ("uvicorn.config",),
}
# Supervisors whose children are workers sharing one listening socket.
_SUPERVISORS = ("gunicorn", "uvicorn", "hypercorn", "granian")
_WORKERS_FLAG = re.compile(r"(?:--workers=?|-w=?)(\d*)")
# Children of a supervisor that serve nothing: multiprocessing's helpers.
_HELPERS = (b"resource_tracker", b"forkserver")


def server_name() -> str:
    """Return the name of the server this process serves under, or ``unknown``."""
    for name, modules in SERVERS.items():
        if any(module in sys.modules for module in modules):
            return name
    return UNKNOWN_SERVER


class ServerInfoCollector(Collector):
    """``vidai_websocket_server_info{server}``, read at scrape time (one process)."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(SERVER_INFO, SERVER_INFO_HELP, labels=["server"])
        family.add_metric([server_name()], 1.0)
        yield family


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return b""


def _supervisor(ppid: int) -> tuple[str, list[str]] | None:
    argv = [arg.decode(errors="replace") for arg in _read(f"/proc/{ppid}/cmdline").split(b"\0")]
    if "--reload" in argv:  # a reloader's one child serves, alone
        return None
    for arg in argv[:4]:  # the program, or python's -m module
        base = os.path.basename(arg)
        if base in _SUPERVISORS:
            return base, argv
    return None


def _children(pid: int) -> int:
    """How many of ``pid``'s children serve (multiprocessing's helpers left out)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    children = [
        child for task in tasks for child in _read(f"/proc/{pid}/task/{task}/children").split()
    ]
    return sum(
        1
        for child in children
        if not any(helper in _read(f"/proc/{child.decode()}/cmdline") for helper in _HELPERS)
    )


def _configured_workers(argv: list[str]) -> int:
    for index, arg in enumerate(argv):
        match = _WORKERS_FLAG.fullmatch(arg)
        if match:
            value = match[1] or (argv[index + 1] if index + 1 < len(argv) else "")
            return int(value) if value.isdigit() else 0
    return 0


def warn_unmerged_workers() -> bool:
    """Log an error if this process is one of several workers without multiprocess mode.

    Call it in one-process mode only. It can tell when a known supervisor
    (gunicorn, uvicorn, hypercorn, granian) is the parent with several
    children, or was told to run several workers.
    """
    ppid = os.getppid()
    found = _supervisor(ppid)
    if found is None:
        return False
    name, argv = found
    workers = max(_children(ppid), _configured_workers(argv))
    if workers < 2:
        return False
    logger.error(
        "this process is one of %d %s workers without prometheus_client's multiprocess mode: "
        "each scrape of /metrics and of the status JSON reaches one worker and shows only its "
        "sockets. Set PROMETHEUS_MULTIPROC_DIR to an empty directory in the environment "
        "that starts %s (docs/scaling.md)",
        workers,
        name,
        name,
    )
    return True
