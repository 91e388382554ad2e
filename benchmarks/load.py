"""Churning WebSocket clients on loopback: ``python -m benchmarks.load URL``.

Each of ``--clients`` loops connects, sends ``--frames`` text frames, reads
each answer, and closes, until ``--seconds`` pass; then it prints how many
sessions completed. Bounded in time and count, loopback only: it saturates a
server's event loop so that what still answers can be measured (the scrape
latency benchmark and the listener's test run it in a process of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


async def _client(url: str, frames: int, deadline: float, headers: dict[str, str]) -> int:
    sessions = 0
    while time.monotonic() < deadline:
        try:
            async with connect(url, additional_headers=headers, open_timeout=10) as ws:
                for _ in range(frames):
                    await ws.send('{"type": "ping"}')
                    await ws.recv()
            sessions += 1
        except (OSError, TimeoutError, WebSocketException):
            await asyncio.sleep(0.05)  # a refused or dropped session: back off, go on
    return sessions


async def churn(
    url: str, *, clients: int, frames: int, seconds: float, headers: dict[str, str] | None = None
) -> int:
    """Run the churning clients; return the number of completed sessions."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"load goes to loopback only, not {host!r}")
    deadline = time.monotonic() + seconds
    counts = await asyncio.gather(
        *(_client(url, frames, deadline, headers or {}) for _ in range(clients))
    )
    return sum(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("url", help="ws://127.0.0.1:PORT/path")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    args = parser.parse_args(argv)
    headers = dict(item.split(":", 1) for item in args.header)
    sessions = asyncio.run(
        churn(
            args.url,
            clients=args.clients,
            frames=args.frames,
            seconds=args.seconds,
            headers={name.strip(): value.strip() for name, value in headers.items()},
        )
    )
    print(f"{sessions} sessions", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
