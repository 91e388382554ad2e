"""Server CPU per session on a real uvicorn: Vidai's routes tracked versus unwrapped.

One uvicorn process serves Vidai's stack twice (``benchmarks.served_apps.both``):
at ``/ws/...`` with ``track()`` and ``track_rejections()``, at
``/untracked/ws/...`` without them. One process, so the comparison is not one
between two processes' heaps and caches. Each round sends ``SESSIONS`` ``stt``
sessions of a logged-in user (connect, ``FRAMES`` audio frames each acked,
close) from this process to one of the stacks and reads the server's CPU time in
nanoseconds from ``/proc/<pid>/task/*/schedstat`` (every thread, not 10 ms
ticks). Rounds go in ABBA order, so drift in the machine's load falls on both
sides; the figure is the median of the per-pair ratios with a bootstrap 95 %
confidence interval. Linux only; loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from websockets.asyncio.client import connect

from . import Result, bootstrap_interval, median

TARGET = 1.03
# Where benchmarks.served_apps.both serves the untracked stack.
UNTRACKED_PREFIX = "/untracked"
SESSIONS = 1_000
PAIRS = 20
CLIENTS = 8
FRAMES = 10
AUDIO = b"\x00\x01" * 160  # 10 ms of 16 kHz 8-bit audio, more or less


def cpu_ns(pid: int) -> int:
    """Nanoseconds on CPU of every live thread of process ``pid``."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            total += int(stat.read_text().split()[0])
    return total


async def _sessions(url: str, count: int, headers: dict[str, str]) -> None:
    async def client(share: int) -> None:
        for _ in range(share):
            async with connect(url, additional_headers=headers) as ws:
                for _ in range(FRAMES):
                    await ws.send(AUDIO)
                    await ws.recv()

    shares = [count // CLIENTS + (1 if n < count % CLIENTS else 0) for n in range(CLIENTS)]
    await asyncio.gather(*(client(share) for share in shares))


def _per_session_ns(pid: int, url: str, headers: dict[str, str]) -> float:
    before = cpu_ns(pid)
    asyncio.run(_sessions(url, SESSIONS, headers))
    return (cpu_ns(pid) - before) / SESSIONS


def run() -> list[Result]:
    """Measure the tracked/unwrapped server CPU ratio per session."""
    from tests.accounts import login, seed
    from tests.servers import migrate, run_server

    with tempfile.TemporaryDirectory(prefix="vidai-bench-") as workdir:
        sqlite_path = str(Path(workdir) / "bench.sqlite3")
        migrate(sqlite_path)
        seed(sqlite_path)
        with run_server("uvicorn", sqlite_path, app="benchmarks.served_apps:both") as server:
            # Every socket is a logged-in user's: one session for both stacks.
            session = login(server, "doctor")
            headers = {"Cookie": f"sessionid={session}", "Origin": server.http}
            pid = server.process.pid
            urls = {
                "tracked": server.ws + "/ws/stt/",
                "untracked": server.ws + UNTRACKED_PREFIX + "/ws/stt/",
            }
            for url in urls.values():  # warm-up: imports, caches, the executor's threads
                _per_session_ns(pid, url, headers)
            tracked: list[float] = []
            untracked: list[float] = []
            for pair in range(PAIRS):
                order = ("tracked", "untracked") if pair % 2 == 0 else ("untracked", "tracked")
                figures = {name: _per_session_ns(pid, urls[name], headers) for name in order}
                tracked.append(figures["tracked"])
                untracked.append(figures["untracked"])
    ratios = [t / u for t, u in zip(tracked, untracked, strict=True)]
    low, high = bootstrap_interval(ratios)
    added = median([t - u for t, u in zip(tracked, untracked, strict=True)])
    return [
        Result(
            benchmark="8. uvicorn server CPU per stt session, tracked/unwrapped",
            measured=(
                f"tracked {median(tracked) / 1e3:.0f} us; {added / 1e3:+.1f} us/session; "
                f"95% CI of the ratio {low:.3f}-{high:.3f}; {PAIRS} ABBA pairs x {SESSIONS}"
            ),
            baseline=f"unwrapped {median(untracked) / 1e3:.0f} us",
            figure=median(ratios),
            unit="x",
            target=TARGET,
        )
    ]
