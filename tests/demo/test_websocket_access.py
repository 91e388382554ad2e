"""Who may open which socket, on real uvicorn and daphne servers.

Every refusal is a 403 to the client and a ``rejected`` count with the reason
the close code named; every count is checked exactly, before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..accounts import CONSULTATION_A, CONSULTATION_B, USERS, Accounts, login, logout
from ..servers import SERVERS, LiveServer, SeriesKey, run_server, value

pytestmark = pytest.mark.server

OPENED = "vidai_websocket_connections_opened_total"
CLOSED = "vidai_websocket_connections_closed_total"
REJECTED = "vidai_websocket_connections_rejected_total"
PATHS = {
    "call": f"/ws/call/{CONSULTATION_A}/",
    "stt": "/ws/stt/",
    "stt_room": f"/ws/stt/room/?consultation={CONSULTATION_A}",
    "stt_sales": "/ws/stt/sales/",
    "stt_admin": "/ws/stt/admin/",
}
# Long enough for a relay to arrive on a busy machine; nothing may arrive.
QUIET_SECONDS = 1.5


def delta(after: dict[SeriesKey, float], before: dict[SeriesKey, float], name: str, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def rejections(after, before) -> dict[tuple[str, str], float]:
    """Every rejected{type, reason} that moved, by how much."""
    moved = {}
    for (name, labels), count in after.items():
        if name == REJECTED and count != before.get((name, labels), 0.0):
            found = dict(labels)
            moved[(found["type"], found["reason"])] = count - before.get((name, labels), 0.0)
    return moved


async def refused(url: str, **options: Any) -> int:
    """The HTTP status of a handshake that must be refused."""
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, **options):
            pass
    return refusal.value.response.status_code


async def nothing_arrives(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), QUIET_SECONDS)


async def closed_with(ws: ClientConnection) -> int | None:
    """Read until the server closes (15 s at most); the close code it sent."""
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(drain(ws), 15)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def drain(ws: ClientConnection, received: list[Any] | None = None) -> None:
    """Read what the server sends into ``received`` until it closes (ConnectionClosed)."""
    while True:
        message = json.loads(await ws.recv())
        if received is not None:
            received.append(message)


async def test_anonymous_handshakes_are_refused_on_every_route(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    before = await asyncio.to_thread(server.scrape)
    for path in PATHS.values():
        assert await refused(server.ws + path, **accounts.handshake(server, None)) == 403
    after = await asyncio.to_thread(server.scrape)
    assert rejections(after, before) == {(t, "unauthenticated"): 1 for t in PATHS}
    assert all(delta(after, before, OPENED, type=t) == 0 for t in PATHS)


async def test_the_feeds_are_for_staff_only(asgi_server: LiveServer, accounts: Accounts) -> None:
    server = asgi_server
    before = await asyncio.to_thread(server.scrape)
    for username in ("plain", "doctor"):
        for feed in ("stt_sales", "stt_admin"):
            handshake = accounts.handshake(server, username)
            assert await refused(server.ws + PATHS[feed], **handshake) == 403
    async with connect(server.ws + PATHS["stt_admin"], **accounts.handshake(server, "staff")) as ws:
        assert json.loads(await ws.recv()) == {"type": "welcome", "feed": "admin"}
    after = await asyncio.to_thread(server.scrape)
    assert rejections(after, before) == {
        ("stt_sales", "forbidden"): 2,
        ("stt_admin", "forbidden"): 2,
    }
    assert delta(after, before, OPENED, type="stt_admin") == 1


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        None,  # no Origin header at all
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example:8000",
        "file://",
    ],
)
async def test_other_sites_cannot_use_a_staff_cookie(
    asgi_server: LiveServer, accounts: Accounts, origin: str | None
) -> None:
    server = asgi_server
    cookie = accounts.handshake(server, "staff")["additional_headers"]
    before = await asyncio.to_thread(server.scrape)
    for feed in ("stt_admin", "stt_sales"):
        options: dict[str, Any] = {"additional_headers": cookie, "origin": origin}
        assert await refused(server.ws + PATHS[feed], **options) == 403
    after = await asyncio.to_thread(server.scrape)
    assert rejections(after, before) == {
        ("stt_admin", "forbidden_origin"): 1,
        ("stt_sales", "forbidden_origin"): 1,
    }


async def test_a_participant_of_one_consultation_receives_nothing_of_another(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    doctor, patient, nurse = (
        accounts.handshake(server, name) for name in ("doctor", "patient", "nurse-b")
    )
    call_b, room_b = f"/ws/call/{CONSULTATION_B}/", f"/ws/stt/room/?consultation={CONSULTATION_B}"
    before = await asyncio.to_thread(server.scrape)
    # Not a participant of B: refused, however the id is given.
    for path in (call_b, room_b, "/ws/call/not-a-consultation/", "/ws/stt/room/"):
        assert await refused(server.ws + path, **doctor) == 403
    async with contextlib.AsyncExitStack() as stack:
        call_a = await stack.enter_async_context(connect(server.ws + PATHS["call"], **doctor))
        peer_a = await stack.enter_async_context(connect(server.ws + PATHS["call"], **patient))
        room_a = await stack.enter_async_context(connect(server.ws + PATHS["stt_room"], **doctor))
        assert json.loads(await room_a.recv())["event"] == "joined"
        call_of_b = await stack.enter_async_context(connect(server.ws + call_b, **nurse))
        room_of_b = await stack.enter_async_context(connect(server.ws + room_b, **nurse))
        assert json.loads(await room_of_b.recv()) == {
            "event": "joined", "role": "nurse", "name": "Nurse Bo"
        }  # fmt: skip
        await call_of_b.send(json.dumps({"type": "offer", "sdp": "only for B"}))
        await room_of_b.send(json.dumps({"text": "only for B"}))
        assert json.loads(await room_of_b.recv())["text"] == "only for B"
        await nothing_arrives(call_a)
        await nothing_arrives(peer_a)
        await nothing_arrives(room_a)
        # A's own call still relays within A.
        await call_a.send(json.dumps({"type": "offer", "sdp": "for A"}))
        assert json.loads(await peer_a.recv()) == {"type": "offer", "sdp": "for A"}
        await nothing_arrives(call_of_b)
    after = await asyncio.to_thread(server.scrape)
    assert rejections(after, before) == {("call", "forbidden"): 2, ("stt_room", "forbidden"): 2}
    assert delta(after, before, OPENED, type="call") == 3
    assert delta(after, before, OPENED, type="stt_room") == 2


async def test_a_forged_role_or_name_changes_nothing(
    asgi_server: LiveServer, accounts: Accounts
) -> None:
    server = asgi_server
    forged = f"/ws/stt/room/?consultation={CONSULTATION_A}&role=patient&name=Mallory"
    sqlite_path = server.env["VIDAI_SQLITE_PATH"]
    joins_before = await asyncio.to_thread(joins_of, sqlite_path, "doctor")
    async with (
        connect(server.ws + PATHS["stt_room"], **accounts.handshake(server, "patient")) as patient,
        connect(server.ws + forged, **accounts.handshake(server, "doctor")) as doctor,
    ):
        assert json.loads(await patient.recv())["event"] == "joined"  # the patient's own
        joined = json.loads(await patient.recv())
        assert joined == {"event": "joined", "role": "doctor", "name": "Dr Ada Byron"}
        assert json.loads(await doctor.recv()) == joined
        await doctor.send(json.dumps({"text": "I am the doctor", "role": "patient", "name": "M"}))
        segment = json.loads(await patient.recv())
        assert segment == {"event": "segment", "role": "doctor", "name": "Dr Ada Byron",
                           "text": "I am the doctor"}  # fmt: skip
    # The audit trail has the join, with the recorded role.
    joins = await asyncio.to_thread(joins_of, sqlite_path, "doctor")
    assert joins[len(joins_before) :] == [("stt_room", "doctor", CONSULTATION_A.hex)]


def joins_of(sqlite_path: str, username: str) -> list[tuple[str, str, str]]:
    """The audit trail of one user, oldest first: (room, role, consultation id)."""
    with contextlib.closing(sqlite3.connect(sqlite_path)) as db:
        rows = db.execute(
            "SELECT j.room, j.role, j.consultation_id FROM consultation_joinrecord j"
            " JOIN auth_user u ON u.id = j.user_id WHERE u.username = ? ORDER BY j.id",
            (username,),
        ).fetchall()
    return [(room, role, str(consultation).replace("-", "")) for room, role, consultation in rows]


async def test_a_staff_socket_closes_with_4401_when_its_session_logs_out(
    asgi_server: LiveServer,
) -> None:
    server = asgi_server
    # Two sessions of the same user: only the one logged out loses its sockets.
    leaving = await asyncio.to_thread(login, server, "staff")
    staying = await asyncio.to_thread(login, server, "staff")
    options = [
        {"origin": server.http, "additional_headers": {"Cookie": f"sessionid={key}"}}
        for key in (leaving, staying)
    ]
    before = await asyncio.to_thread(server.scrape)
    async with (
        connect(server.ws + PATHS["stt_admin"], **options[0]) as admin,
        connect(server.ws + PATHS["stt_sales"], **options[0]) as sales,
        connect(server.ws + PATHS["stt_admin"], **options[1]) as other,
    ):
        assert json.loads(await admin.recv())["type"] == "welcome"
        assert json.loads(await other.recv())["type"] == "welcome"
        await asyncio.to_thread(logout, server, leaving)
        logged_out = asyncio.get_running_loop().time()
        assert await closed_with(admin) == 4401
        assert await closed_with(sales) == 4401
        # "Within seconds": a wide bound for a busy machine; the default re-check is 60 s.
        assert asyncio.get_running_loop().time() - logged_out < 10
        await other.send(json.dumps({"type": "ping"}))
        assert json.loads(await other.recv()) == {"type": "pong"}
    # The old session opens nothing any more.
    assert await refused(server.ws + PATHS["stt_admin"], **options[0]) == 403
    after = await asyncio.to_thread(server.wait_for, lambda s: all(
        value(s, "vidai_websocket_connections", type=t) == 0 for t in PATHS))  # fmt: skip
    for feed in ("stt_admin", "stt_sales"):
        assert (
            delta(after, before, CLOSED, type=feed, reason="application", initiator="server") == 1
        )
    assert rejections(after, before) == {("stt_admin", "unauthenticated"): 1}


# ---- limits, on servers started with small ones ----------------------------------

CAP = 3
BURST = 10


@pytest.fixture(scope="module", params=SERVERS)
def limited(request: pytest.FixtureRequest, sqlite_path: str) -> Iterator[LiveServer]:
    """A server with a small socket cap and frame rate, and a re-check every second."""
    with run_server(
        request.param,
        sqlite_path,
        VIDAI_SOCKETS_PER_USER=str(CAP),
        VIDAI_WEBSOCKET_MESSAGE_RATE=f"{BURST}/600",
        VIDAI_SESSION_RECHECK_SECONDS="1",
    ) as server:
        yield server


async def test_a_flood_past_the_rate_limit_is_closed_with_1008(
    limited: LiveServer, accounts: Accounts
) -> None:
    server = limited
    before = await asyncio.to_thread(server.scrape)
    async with connect(server.ws + PATHS["stt_sales"], **accounts.handshake(server, "staff")) as ws:
        for _ in range(BURST * 3):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"type": "ping"}))
        answers: list[Any] = []
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(drain(ws, answers), 15)
    assert closed.value.rcvd is not None
    # daphne refuses to send 1008 for an app: the consumer sends 4008 there.
    assert closed.value.rcvd.code == (1008 if server.kind == "uvicorn" else 4008)
    # The burst is answered; the frame past it closes the socket.
    assert answers == [{"type": "pong"}] * BURST
    after = await asyncio.to_thread(
        server.wait_for, lambda s: value(s, "vidai_websocket_connections", type="stt_sales") == 0
    )
    assert delta(after, before, CLOSED, type="stt_sales", reason="policy_violation",
                 initiator="server") == 1  # fmt: skip
    assert delta(after, before, OPENED, type="stt_sales") == 1


async def test_a_user_past_the_socket_cap_is_refused(
    limited: LiveServer, accounts: Accounts
) -> None:
    server = limited
    plain = accounts.handshake(server, "plain")
    before = await asyncio.to_thread(server.scrape)
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(connect(server.ws + PATHS["stt"], **plain))
            for _ in range(CAP)
        ]
        assert await refused(server.ws + PATHS["stt"], **plain) == 403
        # Another user is not affected by this one's sockets.
        async with connect(server.ws + PATHS["stt"], **accounts.handshake(server, "doctor")):
            pass
        await held.pop().close()
        await asyncio.to_thread(
            server.wait_for,
            lambda s: value(s, "vidai_websocket_connections", type="stt") == CAP - 1,
        )
        # A closed socket gives its place back.
        await stack.enter_async_context(connect(server.ws + PATHS["stt"], **plain))
    after = await asyncio.to_thread(
        server.wait_for, lambda s: value(s, "vidai_websocket_connections", type="stt") == 0
    )
    assert rejections(after, before) == {("stt", "over_limit"): 1}
    assert delta(after, before, OPENED, type="stt") == CAP + 2


async def test_a_socket_closes_at_the_next_recheck_once_staff_is_removed(
    limited: LiveServer,
) -> None:
    server = limited
    sqlite_path = server.env["VIDAI_SQLITE_PATH"]
    # A user of its own: the shared test users keep their rights.
    username = f"temp-staff-{server.kind}"
    await asyncio.to_thread(make_staff, sqlite_path, username, USERS["plain"])
    session = await asyncio.to_thread(login, server, username)
    options = {"origin": server.http, "additional_headers": {"Cookie": f"sessionid={session}"}}
    async with connect(server.ws + PATHS["stt_admin"], **options) as admin:
        assert json.loads(await admin.recv())["type"] == "welcome"
        await nothing_arrives(admin)  # re-checks pass while the user is staff
        # Changed behind the server's back: no signal, only the periodic re-check sees it.
        await asyncio.to_thread(set_staff, sqlite_path, username, False)
        assert await closed_with(admin) == 4401


def make_staff(sqlite_path: str, username: str, _: object) -> None:
    """A staff user with the test password, copied from the plain user's row."""
    with contextlib.closing(sqlite3.connect(sqlite_path)) as db, db:
        db.execute(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,"
            " last_name, email, is_staff, is_active, date_joined)"
            " SELECT password, NULL, 0, ?, '', '', '', 1, 1, date_joined"
            " FROM auth_user WHERE username = 'plain'",
            (username,),
        )


def set_staff(sqlite_path: str, username: str, is_staff: bool) -> None:
    with contextlib.closing(sqlite3.connect(sqlite_path)) as db, db:
        db.execute("UPDATE auth_user SET is_staff = ? WHERE username = ?", (is_staff, username))
