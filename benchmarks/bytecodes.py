"""Python bytecodes per handshake: what a tracked socket's own work is, counted exactly.

On a small shared machine the server CPU of a handshake (benchmark 11b) varies
between runs by more than the exporter adds, so this counts instead: every
bytecode the interpreter runs on the event loop's thread (``sys.settrace``
with opcode events) while ``SOCKETS`` sockets open through a stack, then while
they close. The app is the same Channels echo consumer in every stack, in
process, with the settings' channel layer; the stacks:

- untracked: a ``URLRouter`` and the consumer (the baseline);
- pass-through: the same behind ``PassThrough`` (only wraps ``receive`` and ``send``);
- tracked: ``track_rejections(URLRouter([track(...)]))``, counting in one process;
- tracked, multiprocess: the same counting into a worker's files, as under
  ``uvicorn --workers`` (``PROMETHEUS_MULTIPROC_DIR``).

While counting, the consumer's hop to a thread before each message (Channels
closing stale database connections) is a no-op: when that thread answers
decides how often the event loop turns, and the loop's own code is counted.
So the exporter's groups below count the same on every run of one Python and
set of libraries, and the totals within about 20 bytecodes a socket: a change
to the tracked path shows here by the bytecode. It is not a time: C code (a
lock, a write to a file's memory map, a dict lookup) counts as the one
bytecode that calls it, and other threads are not counted. The tracked rows
split what they add, open and close together, by where it runs: the
wrappers (``metrics.asgi``), the bookkeeping (``metrics.core``, its sorted
start times), the worker files (``metrics.multiprocess``, prometheus_client),
the rest of ``metrics``; a tracked stack whose groups counted nothing stops
the run with an error rather than print a figure.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any
from unittest import mock

import prometheus_client
import sortedcontainers
from channels.routing import URLRouter
from django.urls import path
from prometheus_client import values

import metrics
from metrics.asgi.rejections import track_rejections
from metrics.asgi.tracking import track
from metrics.asgi.types import ASGIApp, Message

from . import Result, fresh_tracker
from .multiprocess import worker_tracker_in
from .passthrough import PassThrough
from .session import EchoConsumer, websocket_scope

SOCKETS = 200
BATCH = 100  # sockets started between two turns of the event loop
ROUTE = "/ws/echo/"
PATTERN = ROUTE.lstrip("/")  # as a URLRouter's path() takes it

_METRICS = Path(metrics.__file__).parent
# Where a bytecode runs, by its file's directory: the first group that matches.
GROUPS = (
    ("wrappers", str(_METRICS / "asgi")),
    ("worker files", str(_METRICS / "multiprocess")),
    ("worker files", str(Path(prometheus_client.__file__).parent)),
    ("bookkeeping", str(_METRICS / "core")),
    ("bookkeeping", str(Path(sortedcontainers.__file__).parent)),
    ("rest of metrics", str(_METRICS)),
)
SHOWN = ("wrappers", "bookkeeping", "worker files", "rest of metrics")


async def _no_hop() -> None:
    """What the consumer awaits before each message instead of a thread hop."""


class _Tally:
    """Bytecodes run per code object while tracing is on."""

    def __init__(self) -> None:
        self.by_code: Counter[CodeType] = Counter()

    def trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        """Count each bytecode of every frame (``sys.settrace``'s global and local hook)."""
        if event == "call":  # also when a coroutine resumes
            frame.f_trace_opcodes = True
        elif event == "opcode":
            self.by_code[frame.f_code] += 1
        return self.trace

    def total(self) -> int:
        """Return every bytecode counted."""
        return sum(self.by_code.values())

    def groups(self) -> Counter[str]:
        """Return the bytecodes counted by ``GROUPS``, the rest as "other"."""
        found: Counter[str] = Counter()
        for code, count in self.by_code.items():
            for name, part in GROUPS:
                if code.co_filename.startswith(part + os.sep):
                    found[name] += count
                    break
            else:
                found["other"] += count
        return found


async def _sockets(app: ASGIApp, count: int, tallies: tuple[_Tally, _Tally] | None) -> None:
    """Open ``count`` sockets through ``app``, then close them; tally each phase if given."""
    release = asyncio.Event()
    accepted = asyncio.Event()
    opened = 0

    async def session() -> None:
        connected = False

        async def receive() -> Message:
            nonlocal connected
            if not connected:
                connected = True
                return {"type": "websocket.connect"}
            await release.wait()
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: Message) -> None:
            nonlocal opened
            if message["type"] == "websocket.accept":
                opened += 1
                if opened == count:
                    accepted.set()

        await app(websocket_scope(ROUTE), receive, send)

    def traced(tally: _Tally | None) -> None:
        sys.settrace(tally.trace if tally is not None else None)

    traced(tallies[0] if tallies else None)
    tasks = []
    for n in range(count):
        tasks.append(asyncio.ensure_future(session()))
        if n % BATCH == BATCH - 1:
            await asyncio.sleep(0)
    await accepted.wait()
    traced(tallies[1] if tallies else None)
    release.set()
    await asyncio.gather(*tasks)
    traced(None)


def _count(app: ASGIApp) -> tuple[_Tally, _Tally]:
    """Bytecodes of opening and of closing ``SOCKETS`` sockets, after a warm-up batch."""
    with mock.patch("channels.consumer.aclose_old_connections", _no_hop):
        asyncio.run(_sockets(app, SOCKETS, None))  # first-use caches, the type's series
        tallies = (_Tally(), _Tally())
        asyncio.run(_sockets(app, SOCKETS, tallies))
    return tallies


def _per_socket(count: float) -> str:
    return f"{count / SOCKETS:.0f}"


def _more(count: float) -> str:
    return f"{count / SOCKETS:+.0f}"


def _row(
    name: str, stack: tuple[_Tally, _Tally], base: tuple[_Tally, _Tally], *, needs: tuple[str, ...]
) -> Result:
    """One stack's row against the untracked ``base``; ``needs`` are groups that must have run."""
    added = stack[0].groups() + stack[1].groups()
    added.subtract(base[0].groups() + base[1].groups())
    missing = [group for group in needs if added[group] <= 0]
    if missing:  # tracing or the stack is broken: a figure would mean nothing
        raise RuntimeError(f"{name}: no bytecodes counted in {', '.join(missing)}")
    split = ", ".join(f"{group} {_more(added[group])}" for group in SHOWN if added[group])
    opens, closes = (tally.total() for tally in stack)
    base_opens, base_closes = (tally.total() for tally in base)
    return Result(
        benchmark=f"12{name} (info)",
        measured=f"open {_per_socket(opens)} ({_more(opens - base_opens)}), "
        f"close {_per_socket(closes)} ({_more(closes - base_closes)})"
        + (f"; both: {split}" if split else ""),
        baseline=f"untracked open {_per_socket(base_opens)}, close {_per_socket(base_closes)}",
        figure=(opens + closes) / (base_opens + base_closes),
        unit="x",
        target=None,
    )


def run() -> list[Result]:
    """Count the bytecodes of each stack's handshakes; compare with the untracked stack's."""
    tracker = fresh_tracker()

    def consumer() -> ASGIApp:
        app: ASGIApp = EchoConsumer.as_asgi()
        return app

    untracked = _count(URLRouter([path(PATTERN, consumer())]))
    passthrough = _count(PassThrough(URLRouter([path(PATTERN, consumer())])))
    tracked = _count(
        track_rejections(
            URLRouter([path(PATTERN, track("call", consumer(), tracker=tracker))]),
            tracker=tracker,
        )
    )
    with tempfile.TemporaryDirectory(prefix="vidai-bench-bytecodes-") as directory:
        try:
            worker = worker_tracker_in(directory, os.getpid())
            multiprocess = _count(
                track_rejections(
                    URLRouter([path(PATTERN, track("call", consumer(), tracker=worker))]),
                    tracker=worker,
                )
            )
        finally:
            values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]
    tracked_groups = ("wrappers", "bookkeeping")
    return [
        _row(
            "a. bytecodes per handshake, tracked/untracked, one process",
            tracked,
            untracked,
            needs=tracked_groups,
        ),
        _row(
            "b. bytecodes per handshake, tracked/untracked, a worker's files",
            multiprocess,
            untracked,
            needs=(*tracked_groups, "worker files"),
        ),
        _row(
            "c. bytecodes per handshake, pass-through/untracked", passthrough, untracked, needs=()
        ),
    ]
