"""Soak: 2,000 concurrent sockets churning for 60 s, plus 200 status polls a second,
against one uvicorn process on loopback. Zero errors, exact counts, memory back.

Memory is compared with an identical round run first. After load, a CPython
server's resident memory is the high-water mark of that load rather than what
it still uses: glibc keeps freed heap pages, and each closed uvicorn socket
keeps its protocol (with about 50 KB of permessage-deflate zlib state) in a
reference cycle until the next full garbage collection, so how much of the
heap was garbage at the busiest moment depends on when that collection ran.
Measured over rounds, the live heap comes back exactly while resident memory
after a round varies by up to 14%, and the most a round reached by 5%. So the
baseline is the warm-up round's peak: a leak shows as the soak ending above
it. tests/test_memory.py counts what a closed socket leaves behind exactly.
"""

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from .servers import LiveServer, run_server, value

pytestmark = [
    pytest.mark.server,
    pytest.mark.slow,
    pytest.mark.timeout(360),
    # Under this load the websockets client can drop a socket object on an
    # error path before closing it; that is the load generator's, not the server's.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SOCKETS = 2_000
SECONDS = 60.0
POLLS_PER_SECOND = 200
POLLERS = 20
PATHS = {
    "call": "/ws/call/soak-{n}/",
    "stt": "/ws/stt/",
    "stt_room": "/ws/stt/room/?role=observer&name=Soak",
    "stt_sales": "/ws/stt/sales/",
}
TYPES_BUT_ROOM = ["call", "stt", "stt_sales"]
RAMP_SECONDS = 5.0
OPENED = "vidai_websocket_connections_opened_total"
CLOSED = "vidai_websocket_connections_closed_total"


class Tally:
    def __init__(self) -> None:
        self.opened: Counter[str] = Counter()
        self.errors: list[str] = []
        self.polls = 0


async def churn(server: LiveServer, n: int, deadline: float, tally: Tally) -> None:
    """One client slot: connect, hold a few seconds with a frame or two, close; repeat."""
    rng = random.Random(n)
    # Arrivals spread over the first seconds, as clients arrive in life.
    await asyncio.sleep(n / SOCKETS * RAMP_SECONDS)
    while time.monotonic() < deadline:
        # The transcript room is one room for everyone, and every join is
        # announced to all its members: keep it at a realistic size.
        socket_type = "stt_room" if n % 100 == 0 else rng.choice(TYPES_BUT_ROOM)
        try:
            async with connect(
                server.ws + PATHS[socket_type].format(n=n % 50), open_timeout=30, close_timeout=30
            ) as ws:
                tally.opened[socket_type] += 1
                if socket_type == "stt":
                    await ws.send(b"\0" * 320)
                    await ws.recv()
                # Hold 5-15 s, but not past the deadline: a round ends on time.
                hold = rng.uniform(5, 15)
                await asyncio.sleep(min(hold, max(0.0, deadline - time.monotonic())))
        except Exception as error:  # every failure is a finding: record it
            tally.errors.append(f"{socket_type}: {type(error).__name__}: {error}")


async def poll(port: int, deadline: float, tally: Tally) -> None:
    """Poll the status JSON over one keep-alive HTTP connection at a fixed rate."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET /consultation/socket-status/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    ).encode()
    interval = POLLERS / POLLS_PER_SECOND
    next_at = time.monotonic()
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            status = (await reader.readline()).split()[1]
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, header_value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(header_value)
            await reader.readexactly(length)
            if status != b"200":
                tally.errors.append(f"status poll answered {status.decode()}")
            tally.polls += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        writer.close()


async def peak_open(server: LiveServer, deadline: float) -> float:
    """The most sockets /metrics showed open at once, sampled every few seconds."""
    peak = 0.0
    while time.monotonic() < deadline:
        await asyncio.sleep(3)
        samples = await asyncio.to_thread(server.scrape)
        peak = max(peak, totals(samples, "vidai_websocket_connections"))
    return peak


def totals(samples, name: str) -> float:
    return sum(v for (sample_name, _), v in samples.items() if sample_name == name)


def resident_bytes(server: LiveServer) -> float:
    status, body = server.get("/metrics?name[]=process_resident_memory_bytes")
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "process_resident_memory_bytes":
            return float(family.samples[0].value)
    raise AssertionError("the server exports no resident memory figure")


def peak_resident_bytes(server: LiveServer) -> float:
    """The most resident memory the server process has had so far (Linux's VmHWM)."""
    with open(f"/proc/{server.process.pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
    raise AssertionError("the kernel reports no peak resident memory")


def load(server: LiveServer, deadline: float, tally: Tally) -> list[Awaitable[None]]:
    """One round: every client slot churning and every poller polling until the deadline."""
    return [
        *(churn(server, n, deadline, tally) for n in range(SOCKETS)),
        *(poll(server.port, deadline, tally) for _ in range(POLLERS)),
    ]


async def test_soak(sqlite_path: str) -> None:
    with run_server("uvicorn", sqlite_path, app="vidai.asgi:application") as server:
        # Warm up with a round identical to the soak; the baseline is the most
        # memory it took (see the module docstring).
        warm = Tally()
        await asyncio.gather(*load(server, time.monotonic() + SECONDS, warm))
        assert warm.errors == [], warm.errors[:10]
        idle = lambda s: all(  # noqa: E731
            value(s, "vidai_websocket_connections", type=t) == 0 for t in PATHS
        )
        before = await asyncio.to_thread(server.wait_for, idle, 60)
        baseline = peak_resident_bytes(server)

        tally = Tally()
        deadline = time.monotonic() + SECONDS
        peak = await asyncio.gather(peak_open(server, deadline), *load(server, deadline, tally))
        after = await asyncio.to_thread(server.wait_for, idle, 60)

        assert tally.errors == [], tally.errors[:10]
        assert tally.polls >= POLLS_PER_SECOND * SECONDS * 0.9, tally.polls
        # 2,000 client slots, each reconnecting as soon as it closes; how many a
        # sample every 3 s finds open depends on handshake latency on the machine.
        assert peak[0] >= SOCKETS * 0.5
        assert sum(tally.opened.values()) >= SOCKETS * 3  # and really churning
        for socket_type, count in tally.opened.items():
            opened = value(after, OPENED, type=socket_type) - value(
                before, OPENED, type=socket_type
            )
            assert opened == count, socket_type
        assert totals(after, OPENED) - totals(before, OPENED) == totals(after, CLOSED) - totals(
            before, CLOSED
        )
        assert value(after, "vidai_websocket_tracking_errors_total", stage="close") == 0
        resident = resident_bytes(server)
        assert resident <= baseline * 1.10, (resident, baseline)
