"""One client process of ``python -m benchmarks scale``, driven by lines on stdin.

``python -m benchmarks.scale_client WS_BASE COUNT SOURCE_OFFSET CONCURRENCY``; then:

- ``open``: open COUNT sockets (half on each route), answer ``opened SECONDS``;
- ``close``: close them all, answer ``closed SECONDS``;
- ``churn SECONDS``: open and close sockets that long, answer ``churned SESSIONS``;
- ``quit``.

Source addresses are spread over 127.0.0.2-127.0.0.251, so that no one source
address runs out of ephemeral ports. Loopback only.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time

from websockets.asyncio.client import ClientConnection, connect

ROUTES = ("/ws/echo/", "/ws/chat/")


def _source(n: int) -> tuple[str, int]:
    return (f"127.0.0.{2 + n % 250}", 0)


async def _open_all(base: str, count: int, offset: int, concurrency: int) -> list[ClientConnection]:
    opened: list[ClientConnection] = []
    next_index = iter(range(count))

    async def opener() -> None:
        for n in next_index:
            ws = await connect(
                base + ROUTES[n % 2],
                local_addr=_source(offset + n),
                ping_interval=None,
                open_timeout=60,
                compression=None,
            )
            opened.append(ws)

    await asyncio.gather(*(opener() for _ in range(concurrency)))
    return opened


async def _close_all(sockets: list[ClientConnection], concurrency: int) -> None:
    pending = iter(sockets)

    async def closer() -> None:
        for ws in pending:
            await ws.close()

    await asyncio.gather(*(closer() for _ in range(concurrency)))


async def _churn(base: str, seconds: float, offset: int, concurrency: int) -> int:
    deadline = time.monotonic() + seconds
    done = 0

    async def loop(worker: int) -> None:
        nonlocal done
        n = worker
        while time.monotonic() < deadline:
            async with connect(
                base + ROUTES[n % 2], local_addr=_source(offset + n), compression=None
            ):
                pass
            done += 1
            n += concurrency

    await asyncio.gather(*(loop(worker) for worker in range(concurrency)))
    return done


async def _main(base: str, count: int, offset: int, concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    sockets: list[ClientConnection] = []
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            await _close_all(sockets, concurrency)
            return
        start = time.perf_counter()
        if line[0] == "open":
            sockets = await _open_all(base, count, offset, concurrency)
            answer = f"opened {time.perf_counter() - start:.6f}"
        elif line[0] == "close":
            await _close_all(sockets, concurrency)
            sockets = []
            answer = f"closed {time.perf_counter() - start:.6f}"
        else:
            answer = f"churned {await _churn(base, float(line[1]), offset, concurrency)}"
        print(answer, flush=True)


if __name__ == "__main__":
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
