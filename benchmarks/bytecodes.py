"""Python bytecodes per handshake: what a tracked socket's own work is, counted exactly.

On a small shared machine the server CPU of a handshake (benchmark 11b) varies
between runs by more than the exporter adds, so this counts instead: every
bytecode the interpreter runs on the event loop's thread (``sys.settrace``
with opcode events) while ``SOCKETS`` sockets open through a stack, then while
they close. The app is the same Channels echo consumer in every stack, in
process, with the in-memory channel layer; the stacks:

- untracked: a ``URLRouter`` and the consumer (the baseline);
- pass-through: the same behind ``PassThrough`` (only wraps ``receive`` and ``send``);
- tracked: ``track_rejections(URLRouter([track(...)]))``, counting in one process;
- tracked, multiprocess: the same counting into a worker's files, as under
  ``uvicorn --workers`` (``PROMETHEUS_MULTIPROC_DIR``).

A count is the same on every machine and run: a change to the tracked path
shows here by the bytecode. It is not a time: C code (a lock, a write to a
file's memory map, the consumer's thread hop) counts as the one bytecode that
calls it. The tracked rows split what they add by where it runs: the
wrappers (``metrics.asgi``), the bookkeeping (``metrics.core``, its sorted
start times), the worker files (``metrics.multiprocess``, prometheus_client).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from channels.routing import URLRouter
from django.urls import path
from prometheus_client import values

from metrics.asgi.rejections import track_rejections
from metrics.asgi.tracking import track
from metrics.asgi.types import ASGIApp, Message

from . import Result, fresh_tracker
from .multiprocess import worker_tracker_in
from .passthrough import PassThrough
from .session import EchoConsumer

SOCKETS = 200
BATCH = 100  # sockets started between two turns of the event loop
ROUTE = "/ws/echo/"

# Where a bytecode runs, by its file's path: the first group that matches.
GROUPS = (
    ("wrappers", f"metrics{os.sep}asgi{os.sep}"),
    ("worker files", f"metrics{os.sep}multiprocess{os.sep}"),
    ("worker files", f"prometheus_client{os.sep}"),
    ("bookkeeping", f"metrics{os.sep}core{os.sep}"),
    ("bookkeeping", f"sortedcontainers{os.sep}"),
)


class _Tally:
    """Bytecodes run per code object while tracing is on."""

    def __init__(self) -> None:
        self.by_code: Counter[CodeType] = Counter()

    def trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        if event == "call":  # also when a coroutine resumes
            frame.f_trace_opcodes = True
        elif event == "opcode":
            self.by_code[frame.f_code] += 1
        return self.trace

    def total(self) -> int:
        return sum(self.by_code.values())

    def groups(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for code, count in self.by_code.items():
            for name, part in GROUPS:
                if part in code.co_filename:
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

        scope = {
            "type": "websocket",
            "path": ROUTE,
            "raw_path": ROUTE.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")],
            "query_string": b"",
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "subprotocols": [],
        }
        await app(scope, receive, send)

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
    asyncio.run(_sockets(app, SOCKETS, None))  # first-use caches, the type's series
    tallies = (_Tally(), _Tally())
    asyncio.run(_sockets(app, SOCKETS, tallies))
    return tallies


def _per_socket(count: float) -> str:
    return f"{count / SOCKETS:.0f}"


def _added(stack: tuple[_Tally, _Tally], base: tuple[_Tally, _Tally]) -> str:
    added = stack[0].groups() + stack[1].groups()
    added.subtract(base[0].groups() + base[1].groups())
    return ", ".join(
        f"{name} +{_per_socket(added[name])}"
        for name in ("wrappers", "bookkeeping", "worker files")
        if added[name]
    )


def _row(
    name: str, where: str, stack: tuple[_Tally, _Tally], base: tuple[_Tally, _Tally]
) -> Result:
    opens, closes = (tally.total() for tally in stack)
    base_opens, base_closes = (tally.total() for tally in base)
    split = _added(stack, base)
    return Result(
        benchmark=f"12{name}. bytecodes per handshake, tracked/untracked, {where} (info)",
        measured=f"open {_per_socket(opens)} (+{_per_socket(opens - base_opens)}), "
        f"close {_per_socket(closes)} (+{_per_socket(closes - base_closes)})"
        + (f"; {split}" if split else ""),
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

    untracked = _count(URLRouter([path(ROUTE.lstrip("/"), consumer())]))
    passthrough = _count(PassThrough(URLRouter([path(ROUTE.lstrip("/"), consumer())])))
    tracked = _count(
        track_rejections(
            URLRouter([path(ROUTE.lstrip("/"), track("call", consumer(), tracker=tracker))]),
            tracker=tracker,
        )
    )
    with tempfile.TemporaryDirectory(prefix="vidai-bench-bytecodes-") as directory:
        try:
            worker = worker_tracker_in(directory, os.getpid())
            multiprocess = _count(
                track_rejections(
                    URLRouter([path(ROUTE.lstrip("/"), track("call", consumer(), tracker=worker))]),
                    tracker=worker,
                )
            )
        finally:
            values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]
    return [
        _row("a", "one process", tracked, untracked),
        _row("b", "a worker's files", multiprocess, untracked),
        Result(
            benchmark="12c. bytecodes per handshake, pass-through/untracked (info)",
            measured=f"open {_per_socket(passthrough[0].total())}, "
            f"close {_per_socket(passthrough[1].total())}",
            baseline=f"untracked open {_per_socket(untracked[0].total())}, "
            f"close {_per_socket(untracked[1].total())}",
            figure=(passthrough[0].total() + passthrough[1].total())
            / (untracked[0].total() + untracked[1].total()),
            unit="x",
            target=None,
        ),
    ]
