"""Many workers on one host, for real: gunicorn with uvicorn workers serving the demo.

Sockets spread over the workers add up in /metrics and the status JSON, a
killed worker leaves the counts, frames reach the scrape while a socket is
open, and restarts keep the multiprocess directory bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from ..accounts import CONSULTATION_A, Accounts, seed
from ..servers import value
from ..workers import Gunicorn, run_gunicorn

OPEN = "vidai_websocket_connections"
OPENED = "vidai_websocket_connections_opened_total"


# A real gunicorn with uvicorn workers, in multiprocess mode.


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    from ..servers import migrate

    sqlite_path = str(tmp_path_factory.mktemp("gunicorn-db") / "vidai.sqlite3")
    migrate(sqlite_path)
    seed(sqlite_path)
    with run_gunicorn(sqlite_path, workers=3) as live:
        yield live


@pytest.fixture(scope="module")
def logged_in(gunicorn: Gunicorn) -> dict[str, dict]:
    """Handshake options of a participant and of a plain user, on gunicorn's database."""
    accounts = Accounts()
    return {name: accounts.handshake(gunicorn.server, name) for name in ("doctor", "plain")}


def totals(gunicorn: Gunicorn) -> tuple[float, int]:
    """Open calls per /metrics and per the status JSON."""
    scraped = value(gunicorn.server.scrape(), OPEN, type="call")
    status, body = gunicorn.server.get("/consultation/socket-status/")
    assert status == 200
    return scraped, json.loads(body)["sockets_by_type"]["call"]


def wait_for_totals(gunicorn: Gunicorn, expected: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = totals(gunicorn)
        if found == (expected, expected):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"/metrics and JSON say {found}, expected {expected}")
        time.sleep(0.05)


@pytest.mark.server
async def test_sockets_spread_over_workers_add_up_and_leave_with_a_killed_worker(
    gunicorn, logged_in
):
    call = gunicorn.server.ws + f"/ws/call/{CONSULTATION_A}/"
    clients = []
    try:
        # The kernel hands each connection to one worker: open until two have some.
        for _ in range(20):
            clients += [await connect(call, **logged_in["doctor"]) for _ in range(6)]
            by_worker = gunicorn.open_by_worker("call")
            if sum(1 for n in by_worker.values() if n) >= 2 and sum(by_worker.values()) == len(
                clients
            ):
                break
            await asyncio.sleep(0.05)
        by_worker = gunicorn.open_by_worker("call")
        assert sum(1 for n in by_worker.values() if n) >= 2, by_worker
        await asyncio.to_thread(wait_for_totals, gunicorn, len(clients))
        opened = value(gunicorn.server.scrape(), OPENED, type="call")

        victim, lost = max(by_worker.items(), key=lambda item: item[1])
        os.kill(victim, signal.SIGKILL)
        await asyncio.to_thread(gunicorn.wait_for_workers, 3, not_in={victim})
        await asyncio.to_thread(wait_for_totals, gunicorn, len(clients) - int(lost))
        # Its counters stay: folded into the archive when the master reaped it.
        assert value(gunicorn.server.scrape(), OPENED, type="call") == opened
        assert not [name for name in gunicorn.files() if f"_{victim}." in name]
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
    await asyncio.to_thread(wait_for_totals, gunicorn, 0)


@pytest.mark.server
async def test_sparse_frames_reach_the_scrape_under_gunicorn_while_the_socket_is_open(
    gunicorn, logged_in
):
    server = gunicorn.server
    messages = "vidai_websocket_messages_total"
    received = {"type": "stt", "direction": "received"}
    sent = {"type": "stt", "direction": "sent"}
    before = await asyncio.to_thread(server.scrape)
    async with connect(server.ws + "/ws/stt/", **logged_in["plain"]) as ws:
        for _ in range(3):
            await ws.send(b"\0" * 320)
            await ws.recv()
        # Then silence: nothing more comes through this socket.
        await asyncio.sleep(2.5)
        during = await asyncio.to_thread(server.scrape)
        assert value(during, OPEN, type="stt") >= 1
        assert value(during, messages, **received) - value(before, messages, **received) == 3
        assert value(during, messages, **sent) - value(before, messages, **sent) == 3
        bytes_name = "vidai_websocket_message_bytes_total"
        assert value(during, bytes_name, **received) - value(before, bytes_name, **received) == 960


async def test_twenty_worker_restarts_keep_the_directory_bounded(gunicorn, logged_in) -> None:
    messages = "vidai_websocket_messages_total"
    received = {"type": "stt", "direction": "received"}
    earlier = value(await asyncio.to_thread(gunicorn.server.scrape), messages, **received)
    async with connect(gunicorn.server.ws + "/ws/stt/", **logged_in["plain"]) as held:
        await held.send(b"frame")
        await held.recv()
        # Frame counters reach the files at the worker's next refresh (1 s).
        before = await asyncio.to_thread(
            gunicorn.server.wait_for, lambda s: value(s, messages, **received) == earlier + 1
        )
        counts = []
        for _ in range(20):
            workers = gunicorn.worker_pids()
            holding = {pid for pid, n in gunicorn.open_by_worker("stt").items() if n}
            victim = min(workers - holding)
            os.kill(victim, signal.SIGKILL)
            await asyncio.to_thread(gunicorn.wait_for_workers, 3, not_in={victim})
            files = gunicorn.files()
            db = [name for name in files if name.endswith(".db")]
            workers = gunicorn.worker_pids()
            per_worker = [sum(name.endswith(f"_{pid}.db") for name in db) for pid in workers]
            counts.append((len(db), per_worker, sum(name.endswith("_archive.db") for name in db)))
        after = gunicorn.server.scrape()
    # After every restart: 3 workers x 6 files (counter, histogram, livesum,
    # livemin, liveall, livemax), the counter and histogram archives, and the
    # same few of the --preload master's: the directory stays bounded.
    assert all(per_worker == [6, 6, 6] and archives == 2 for _, per_worker, archives in counts)
    assert len({total for total, _, _ in counts}) == 1, (counts, gunicorn.files())
    assert counts[0][0] <= 3 * 6 + 2 + 6, gunicorn.files()
    for name, labels in before:
        if name.endswith("_total") and ("type", "stt") in labels:
            assert after[(name, labels)] == before[(name, labels)], name
    assert value(after, OPEN, type="stt") == 1
