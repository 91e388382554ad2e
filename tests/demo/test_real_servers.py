"""Exactly-once counting on real uvicorn and daphne servers with real clients."""

import asyncio
import base64
import json
import os
import socket
from collections.abc import Mapping

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..accounts import CONSULTATION_A, Accounts, user_id
from ..servers import LiveServer, SeriesKey, value

pytestmark = pytest.mark.server

OPEN = "vidai_websocket_connections"
OPENED = "vidai_websocket_connections_opened_total"
CLOSED = "vidai_websocket_connections_closed_total"
REJECTED = "vidai_websocket_connections_rejected_total"
HANDSHAKES = "vidai_websocket_handshake_duration_seconds_count"
HANDSHAKE_SECONDS = "vidai_websocket_handshake_duration_seconds_sum"
TYPES = ("call", "stt", "stt_room", "stt_sales", "stt_admin", "fault_connect",
         "fault_accepted", "fault_receive", "fault_disconnect", "fault_discard",
         "fault_slow", "test_echo", "test_busy")  # fmt: skip


def closed_total(samples: dict[SeriesKey, float], socket_type: str) -> float:
    return sum(
        sample_value
        for (name, labels), sample_value in samples.items()
        if name == CLOSED and ("type", socket_type) in labels
    )


def assert_invariants(samples: dict[SeriesKey, float]) -> None:
    for socket_type in TYPES:
        gauge = value(samples, OPEN, type=socket_type)
        assert gauge >= 0, socket_type
        assert value(samples, OPENED, type=socket_type) - closed_total(samples, socket_type) == (
            gauge
        ), socket_type


def delta(after: dict[SeriesKey, float], before: dict[SeriesKey, float], name: str, **labels: str):
    return value(after, name, **labels) - value(before, name, **labels)


async def test_each_way_of_ending_is_counted_exactly_once(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    doctor, plain, nobody = (accounts.handshake(server, u) for u in ("doctor", "plain", None))
    before = server.scrape()

    # Denied handshake (not staff): 0 open, 1 rejected.
    with pytest.raises(InvalidStatus):
        async with connect(server.ws + "/ws/stt/admin/", **plain):
            pass
    # Client close.
    async with connect(server.ws + f"/ws/call/{CONSULTATION_A}/", **doctor) as peer:
        samples = server.wait_for(lambda s: value(s, OPEN, type="call") == 1)
        assert_invariants(samples)
        await peer.send(json.dumps({"type": "offer", "sdp": "x"}))
    # Server close with an application code (a text frame over the size limit).
    async with connect(server.ws + f"/ws/call/{CONSULTATION_A}/", **doctor) as big:
        await big.send(json.dumps({"type": "offer", "sdp": "x" * 70_000}))
        with pytest.raises(ConnectionClosed) as closed:
            await big.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    # Exceptions before accept, after accept, and in receive.
    with pytest.raises(InvalidStatus):
        async with connect(server.ws + "/ws/test/fail-connect/", **nobody):
            pass
    with pytest.raises(ConnectionClosed):
        async with connect(server.ws + "/ws/test/fail-accepted/", **nobody) as failing:
            await failing.recv()
    async with connect(server.ws + "/ws/test/fail-receive/", **nobody) as failing:
        await failing.send("boom")
        with pytest.raises(ConnectionClosed):
            await failing.recv()

    after = server.wait_for(
        lambda s: all(value(s, OPEN, type=t) == 0 for t in TYPES)
        and delta(s, before, CLOSED, type="fault_receive", reason="internal_error",
                  initiator="server") == 1
    )  # fmt: skip
    assert_invariants(after)
    assert delta(after, before, REJECTED, type="stt_admin", reason="forbidden") == 1
    assert delta(after, before, OPENED, type="stt_admin") == 0
    assert delta(after, before, OPENED, type="call") == 2
    assert delta(after, before, CLOSED, type="call", reason="normal", initiator="client") == 1
    assert delta(after, before, CLOSED, type="call", reason="application", initiator="server") == 1
    assert delta(after, before, REJECTED, type="fault_connect", reason="error") == 1
    for socket_type in ("fault_accepted", "fault_receive"):
        assert delta(after, before, OPENED, type=socket_type) == 1
        assert (
            delta(after, before, CLOSED, type=socket_type, reason="internal_error",
                  initiator="server") == 1
        ), socket_type  # fmt: skip
    # The offer and the oversized frame.
    assert delta(after, before, "vidai_websocket_messages_total", type="call",
                 direction="received") == 2  # fmt: skip


async def test_handshakes_are_timed_whether_accepted_or_refused(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    doctor = accounts.handshake(server, "doctor")
    before = server.scrape()
    # Accepted by a tracked route.
    async with connect(server.ws + f"/ws/call/{CONSULTATION_A}/", **doctor):
        server.wait_for(lambda s: value(s, OPEN, type="call") == 1)
    for path in (
        "/ws/stt/admin/",  # refused by the consumer (not staff): HTTP 403
        "/ws/test/fail-connect/",  # the app raised before accepting
        "/ws/no/such/route/",  # refused by the catch-all route
    ):
        with pytest.raises(InvalidStatus):
            async with connect(server.ws + path, **doctor):
                pass
    expected = {"call": 1, "stt_admin": 1, "fault_connect": 1, "unknown": 1}
    after = server.wait_for(
        lambda s: all(delta(s, before, HANDSHAKES, type=t) == n for t, n in expected.items())
    )
    for socket_type in expected:
        assert delta(after, before, HANDSHAKE_SECONDS, type=socket_type) > 0, socket_type
    assert delta(after, before, HANDSHAKES, type="stt") == 0  # no handshake, no observation


async def test_dropped_tcp_connection_is_uncounted(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    async with connect(server.ws + "/ws/stt/", **accounts.handshake(server, "plain")) as stream:
        server.wait_for(lambda s: value(s, OPEN, type="stt") == 1)
        stream.transport.abort()  # no close frame, the TCP connection just goes
    samples = server.wait_for(lambda s: value(s, OPEN, type="stt") == 0)
    by_reason = {
        reason: value(samples, CLOSED, type="stt", reason=reason, initiator="client")
        for reason in ("abnormal", "normal")
    }
    # uvicorn's default (sans-I/O) protocol reports a vanished peer as 1005, no status.
    expected = "normal" if server.kind == "uvicorn" else "abnormal"
    assert by_reason[expected] == 1, by_reason
    assert closed_total(samples, "stt") == 1
    assert_invariants(samples)


def open_silent_socket(port: int, path: str, headers: Mapping[str, str]) -> socket.socket:
    """Complete a WebSocket handshake by hand, then never answer a ping."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {header}\r\n" for name, header in headers.items())
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{extra}\r\n"
        ).encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    return sock


async def test_vanished_client_is_uncounted_once_pings_go_unanswered(
    asgi_server: LiveServer, accounts: Accounts
):
    server = asgi_server
    staff = accounts.handshake(server, "staff")
    headers = {"Origin": staff["origin"], **staff["additional_headers"]}
    silent = open_silent_socket(server.port, "/ws/stt/sales/", headers)
    try:
        server.wait_for(lambda s: value(s, OPEN, type="stt_sales") == 1)
        # Ping interval 1 s and timeout 1-2 s in the test servers.
        samples = await asyncio.to_thread(
            server.wait_for, lambda s: value(s, OPEN, type="stt_sales") == 0, 30.0
        )
    finally:
        silent.close()
    assert value(samples, OPENED, type="stt_sales") == 1
    assert closed_total(samples, "stt_sales") == 1
    assert_invariants(samples)


async def test_json_and_metrics_agree_with_live_sockets(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    wanted = {"call": 3, "stt": 2, "stt_room": 1, "stt_sales": 2}
    paths = {
        "call": f"/ws/call/{CONSULTATION_A}/",
        "stt": "/ws/stt/",
        "stt_room": f"/ws/stt/room/?consultation={CONSULTATION_A}",
        "stt_sales": "/ws/stt/sales/",
    }
    users = {"stt_sales": "staff"}
    clients = [
        await connect(
            server.ws + paths[socket_type],
            **accounts.handshake(server, users.get(socket_type, "doctor")),
        )
        for socket_type, count in wanted.items()
        for _ in range(count)
    ]
    try:
        samples = server.wait_for(
            lambda s: all(value(s, OPEN, type=t) == n for t, n in wanted.items())
        )
        status, body = server.get("/consultation/socket-status/")
        assert status == 200
        document = json.loads(body)
        for socket_type in ("call", "stt", "stt_room", "stt_sales", "stt_admin"):
            assert document["sockets_by_type"][socket_type] == value(
                samples, OPEN, type=socket_type
            )
        assert document["total_sockets"] == sum(wanted.values())
        assert document["oldest_connection_age_seconds"]["call"] >= 0
        assert document["oldest_connection_age_seconds"]["stt_admin"] is None
    finally:
        for client in clients:
            await client.close()
    server.wait_for(lambda s: all(value(s, OPEN, type=t) == 0 for t in wanted))


async def test_staff_see_who_is_connected_and_others_do_not(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    staff = await asyncio.to_thread(accounts.handshake, server, "staff")
    async with connect(server.ws + "/ws/stt/admin/", **staff) as admin:
        assert json.loads(await admin.recv()) == {"type": "welcome", "feed": "admin"}
        cookie = staff["additional_headers"]
        status, body = server.get("/consultation/socket-status/sockets/", headers=cookie)
        assert status == 200
        listed = json.loads(body)["sockets"]
        staff_id = user_id(server.env["VIDAI_SQLITE_PATH"], "staff")
        assert [(s["type"], s["user_id"]) for s in listed] == [("stt_admin", staff_id)]
        assert server.get("/consultation/socket-status/sockets/")[0] == 403


async def test_sparse_frames_are_in_the_next_scrape_while_the_socket_is_open(
    asgi_server, accounts: Accounts
):
    server = asgi_server
    messages = "vidai_websocket_messages_total"
    async with connect(server.ws + "/ws/stt/", **accounts.handshake(server, "plain")) as ws:
        before = await asyncio.to_thread(server.scrape)
        for _ in range(3):
            await ws.send(b"\0" * 320)
            assert json.loads(await ws.recv())["type"] == "ack"
        # One scrape, no waiting: three frames each way, then the socket goes quiet.
        during = await asyncio.to_thread(server.scrape)
        assert value(during, OPEN, type="stt") >= 1
        assert delta(during, before, messages, type="stt", direction="received") == 3
        assert delta(during, before, messages, type="stt", direction="sent") == 3
        assert (
            delta(during, before, "vidai_websocket_message_bytes_total", type="stt",
                  direction="received") == 960
        )  # fmt: skip


async def test_every_scrape_balances_while_sockets_churn(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    """opened - closed == open in each scrape taken while sockets open and close."""
    server = asgi_server
    stop = asyncio.Event()
    staff = accounts.handshake(server, "staff")

    async def churn() -> None:
        while not stop.is_set():
            async with connect(server.ws + "/ws/stt/sales/", **staff):
                pass

    churners = [asyncio.create_task(churn()) for _ in range(8)]
    unbalanced, scrapes = [], 0
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            samples = await asyncio.to_thread(server.scrape)
            scrapes += 1
            open_now = value(samples, OPEN, type="stt_sales")
            if value(samples, OPENED, type="stt_sales") - closed_total(samples, "stt_sales") != (
                open_now
            ):
                unbalanced.append(samples)
    finally:
        stop.set()
        await asyncio.gather(*churners)
    assert scrapes >= 20
    assert value(samples, OPENED, type="stt_sales") >= 50  # really churning
    assert unbalanced == [], f"{len(unbalanced)} of {scrapes} scrapes unbalanced"
