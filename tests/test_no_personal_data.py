"""A canary name sent in handshakes appears in no metric, no JSON and no server log line."""

import asyncio
import contextlib
from collections import Counter

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from .servers import SERVERS, LiveServer, run_server

pytestmark = [pytest.mark.server, pytest.mark.timeout(300)]

CANARY = "Zebulon-Quixworth"
# Per server: 10,000 handshakes in all across uvicorn and daphne.
HANDSHAKES = 5_000
CONCURRENCY = 16
# A loaded machine's server may drop a connection before answering its
# handshake at all (no HTTP response): that says nothing about what it logs,
# so such a handshake is tried again.
ATTEMPTS = 5


async def handshake_once(url: str) -> int:
    try:
        async with connect(url) as ws:
            with contextlib.suppress(ConnectionClosed):
                await ws.send('{"text": "hello"}')
                await ws.recv()
    except InvalidStatus as refused:
        return refused.response.status_code
    return 101


async def handshake(url: str) -> int:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await handshake_once(url)
        except (InvalidMessage, OSError):
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)
    raise AssertionError(f"no handshake answered in {ATTEMPTS} attempts")


async def test_canary_name_never_leaves(asgi_server: LiveServer) -> None:
    server = asgi_server
    paths = [
        f"/ws/stt/room/?role=doctor&name={CANARY}",  # accepted
        f"/ws/stt/room/?role=pirate&name={CANARY}",  # closed with 4403
        f"/ws/nowhere/?name={CANARY}",  # no route
        f"/ws/stt/admin/?name={CANARY}",  # denied
        f"/ws/call/{CANARY}/?name={CANARY}",  # the room id is personal too
    ]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> int:
        async with gate:
            return await handshake(server.ws + paths[i % len(paths)])

    statuses = Counter(await asyncio.gather(*(one(i) for i in range(HANDSHAKES))))
    # Three of the five paths are accepted (one then closed), two refused.
    assert statuses == {101: HANDSHAKES * 3 // 5, 403: HANDSHAKES * 2 // 5}
    _, metrics = server.get("/metrics")
    _, status = server.get("/consultation/socket-status/")
    server.stop()  # flush and close the log
    log = server.log()
    assert "127.0.0.1" in log  # the server's log really was captured
    for where, text in (("/metrics", metrics.decode()), ("status", status.decode()), ("log", log)):
        assert CANARY not in text, where


@pytest.mark.parametrize("kind", SERVERS)
def test_plain_http_requests_for_socket_paths_log_no_room_id(kind, sqlite_path) -> None:
    # DEBUG on: Django's console handler prints django.request's "Not Found" lines.
    with run_server(kind, sqlite_path, DJANGO_DEBUG="1") as server:
        for path in (f"/ws/call/{CANARY}/", f"/ws/call/{CANARY}/?name={CANARY}", f"/ws/{CANARY}/"):
            assert server.get(path)[0] == 404
        server.stop()  # flush and close the log
        log = server.log()
    assert "Not Found: /ws/call/<room>/" in log  # Django's line, templated
    assert "/ws/call/<room>/" in log.replace("Not Found: /ws/call/<room>/", "")  # the access line
    assert CANARY not in log
