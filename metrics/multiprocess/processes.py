"""Which process wrote a metric file, and whether it still runs.

A pid alone does not name a process: a container restarted with the same
directory gives its workers the same pids again, and a reaped worker's pid
is soon another process's. A process is its pid plus its start time (the
kernel's ``starttime``, clock ticks since boot), which no later process with
that pid shares; a zombie (exited, not yet reaped) counts as gone. Without
``/proc`` (macOS, BSD) start times are unknown and a pid that exists counts
as alive.
"""

from __future__ import annotations

import os

_PROC = os.path.exists("/proc/self/stat")

__all__ = ["alive", "start_ticks"]


def start_ticks(pid: int) -> int | None:
    """Return when process ``pid`` started (clock ticks since boot), or None if it is gone.

    >>> start_ticks(os.getpid()) == start_ticks(os.getpid()) is not None
    True
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid ... starttime ...": comm may hold spaces and
    # parentheses, so split after its last ")"; starttime is field 22.
    fields = text[text.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):  # exited: a zombie waits only to be reaped
        return None
    return int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    """Whether ``pid`` still runs and, when ``started`` is known, is that same process."""
    if not _PROC:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    now = start_ticks(pid)
    return now is not None and (started is None or started == now)
