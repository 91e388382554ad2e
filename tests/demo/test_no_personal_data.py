"""Names and consultation ids appear in no metric, no JSON and no server log line.

A canary name travels in handshakes' paths and query strings and in a failed
login; the doctor's display name (the server's record) goes out in room
events; the consultation's id is in every room path.
"""

import asyncio
import contextlib
from collections import Counter

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from consultation.remote import LoginFailed

from ..accounts import CONSULTATION_A, USERS, Accounts, login
from ..servers import SERVERS, LiveServer, run_server

pytestmark = [pytest.mark.server, pytest.mark.timeout(300)]

CANARY = "Zebulon-Quixworth"
# Per server: 10,000 handshakes in all across uvicorn and daphne.
HANDSHAKES = 5_000
CONCURRENCY = 16
# A loaded machine's server may drop a connection before answering its
# handshake at all (no HTTP response): that says nothing about what it logs,
# so such a handshake is tried again.
ATTEMPTS = 5


async def handshake_once(url: str, options: dict) -> int:
    try:
        async with connect(url, **options) as ws:
            with contextlib.suppress(ConnectionClosed):
                await ws.send('{"text": "hello"}')
                await ws.recv()
    except InvalidStatus as refused:
        return refused.response.status_code
    return 101


async def handshake(url: str, options: dict) -> int:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await handshake_once(url, options)
        except (InvalidMessage, OSError):
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)
    raise AssertionError(f"no handshake answered in {ATTEMPTS} attempts")


async def test_canary_name_never_leaves(asgi_server: LiveServer, accounts: Accounts) -> None:
    server = asgi_server
    with pytest.raises(LoginFailed):  # a failed login, the canary its name
        await asyncio.to_thread(login, server, CANARY, CANARY)
    doctor = await asyncio.to_thread(accounts.handshake, server, "doctor")
    paths = [
        f"/ws/stt/room/?consultation={CONSULTATION_A}&role=patient&name={CANARY}",  # accepted
        f"/ws/call/{CANARY}/?name={CANARY}",  # not a consultation: refused
        f"/ws/nowhere/?name={CANARY}",  # no route
        f"/ws/stt/admin/?name={CANARY}",  # not staff: refused
        f"/ws/call/{CONSULTATION_A}/?name={CANARY}",  # accepted
    ]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> int:
        async with gate:
            return await handshake(server.ws + paths[i % len(paths)], doctor)

    statuses = Counter(await asyncio.gather(*(one(i) for i in range(HANDSHAKES))))
    # Two of the five paths are accepted, three refused.
    assert statuses == {101: HANDSHAKES * 2 // 5, 403: HANDSHAKES * 3 // 5}
    _, metrics = server.get("/metrics")
    _, status = server.get("/consultation/socket-status/")
    server.stop()  # flush and close the log
    log = server.log()
    assert "127.0.0.1" in log  # the server's log really was captured
    display_name = USERS["doctor"][1][0][2]
    secrets = (CANARY, display_name, str(CONSULTATION_A), CONSULTATION_A.hex)
    for where, text in (("/metrics", metrics.decode()), ("status", status.decode()), ("log", log)):
        for secret in secrets:
            assert secret not in text, (where, secret)


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
