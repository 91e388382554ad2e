"""Fault matrix on real servers: counts stay exact and our code logs no unhandled error."""

import asyncio
import re
import signal

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..accounts import CONSULTATION_A, Accounts
from ..servers import LiveServer, SeriesKey, value

pytestmark = pytest.mark.server

OPEN = "vidai_websocket_connections"
OPENED = "vidai_websocket_connections_opened_total"
CLOSED = "vidai_websocket_connections_closed_total"


def closed_by_client(samples: dict[SeriesKey, float], socket_type: str) -> float:
    return value(samples, CLOSED, type=socket_type, reason="normal", initiator="client")


def assert_our_code_logged_no_error(log: str) -> None:
    """No tracking error, and no logged traceback that was raised inside metrics/.

    An app's own exception passes through the wrapper's frame on its way to
    the server, which logs it; only where it was raised says whose it is.
    """
    assert "socket tracking failed" not in log
    for block in log.split("Traceback (most recent call last):")[1:]:
        frames = re.findall(r'File "([^"]+)"', block)
        assert frames, block
        assert "/metrics/" not in frames[-1], block


@pytest.mark.parametrize("socket_type", ["fault_disconnect", "fault_discard", "fault_slow"])
async def test_failing_or_slow_disconnect_handlers_still_count_once(
    asgi_server: LiveServer, accounts: Accounts, socket_type: str
) -> None:
    server = asgi_server
    path = {
        "fault_disconnect": "/ws/test/fail-disconnect/",
        "fault_discard": "/ws/test/fail-discard/",
        "fault_slow": "/ws/test/slow-disconnect/",
    }[socket_type]
    for _ in range(3):
        async with connect(server.ws + path, **accounts.handshake(server, None)):
            pass
    samples = await asyncio.to_thread(
        server.wait_for, lambda s: closed_by_client(s, socket_type) == 3
    )
    assert value(samples, OPEN, type=socket_type) == 0
    assert value(samples, OPENED, type=socket_type) == 3
    if socket_type == "fault_slow":
        # Let daphne's close timeout cancel the slow handlers: no second close.
        await asyncio.sleep(3)
        samples = server.scrape()
        assert closed_by_client(samples, socket_type) == 3
        assert sum(v for (name, _), v in samples.items() if name == CLOSED and
                   ("type", socket_type) in _) == 3  # fmt: skip
    assert value(samples, "vidai_websocket_tracking_errors_total", stage="close") == 0
    server.stop()
    log = server.log()
    if socket_type != "fault_slow" and server.kind == "uvicorn":
        # uvicorn logs the app's error (daphne drops it once the client is gone);
        # the check below then has a traceback to look at.
        assert "Traceback" in log
    assert_our_code_logged_no_error(log)


async def test_sigterm_with_sockets_open_closes_them_cleanly(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    doctor = accounts.handshake(server, "doctor")
    paths = (f"/ws/call/{CONSULTATION_A}/", "/ws/stt/", "/ws/stt/")
    clients = [await connect(server.ws + path, **doctor) for path in paths]
    await asyncio.to_thread(server.wait_for, lambda s: value(s, OPEN, type="stt") == 2)
    server.process.send_signal(signal.SIGTERM)
    codes = []
    for client in clients:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 15)
        codes.append(closed.value.rcvd.code if closed.value.rcvd else None)
    returncode = await asyncio.to_thread(server.process.wait, 20)
    if server.kind == "uvicorn":
        # uvicorn tells each client it is restarting, then exits by the signal.
        assert returncode in (0, -signal.SIGTERM), server.log()
        assert codes == [1012, 1012, 1012]
    else:
        # daphne drops the connections without a close frame, and with any
        # Channels consumer open (tracked or not) its interpreter dies of
        # SIGSEGV while shutting down; the clients are disconnected either way.
        assert returncode in (0, -signal.SIGTERM, -signal.SIGSEGV), server.log()
        assert set(codes) <= {None, 1001}, codes
    assert_our_code_logged_no_error(server.log())
