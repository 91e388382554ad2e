"""1,000 hostile handshakes against a real server: clear answers, exact counts, no new labels."""

import asyncio
import random
import string
import urllib.parse

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from metrics import label_values

from ..accounts import CONSULTATION_A, Accounts
from ..servers import LiveServer, SeriesKey, value
from .conftest import VIDAI_TYPES

pytestmark = pytest.mark.server

ATTEMPTS = 1000
INJECTIONS = [
    "'; DROP TABLE auth_user; --", "<script>alert(1)</script>", "../../etc/passwd",
    "${jndi:ldap://127.0.0.1/x}", "{{7*7}}", "%00", "\u202e\u0000", "a" * 3_000,
    "\U0001d54d\U0001d55a \U0001fa7a",
    'type="call"} 1\nvidai_websocket_connections{type="evil', "role=doctor&role=admin",
]  # fmt: skip
KNOWN_TYPES = {*VIDAI_TYPES, "fault_connect",
               "fault_accepted", "fault_receive", "fault_disconnect", "fault_discard",
               "fault_slow", "test_echo", "test_busy", "unknown"}  # fmt: skip
CONTRACT_VALUES = {
    "type": KNOWN_TYPES,
    "reason": set(label_values.CLOSE_REASONS) | set(label_values.REJECT_REASONS),
    "initiator": set(label_values.INITIATORS),
    "direction": set(label_values.DIRECTIONS),
    "stage": {"open", "frame", "close", "reject"},
    "server": set(label_values.SERVER_NAMES),
}


# Request lines over 8 KiB are refused by the servers' HTTP parsers (uvicorn's
# sans-I/O protocol never answers them), so 10 KB values travel in frames.
BIG_FRAME = "\U0001fa7a" * 2_500


def unicode_char(rng: random.Random) -> str:
    """Any code point but a surrogate, which UTF-8 text frames cannot carry."""
    code = rng.randint(0x20, 0x2FFFF - 0x800)
    return chr(code + 0x800 if code >= 0xD800 else code)


def junk(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(INJECTIONS)
    if pick < 0.6:
        return "".join(unicode_char(rng) for _ in range(rng.randint(1, 40)))
    return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 60)))


def quoted(text: str) -> str:
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


def hostile_path(rng: random.Random, category: int) -> str:
    query = f"role={quoted(junk(rng))}&name={quoted(junk(rng))}"
    if category == 0:
        return f"/ws/{quoted(junk(rng))}/{quoted(junk(rng))}/?{query}"
    if category == 1:
        return f"/ws/call/{quoted(junk(rng))}/?{query}"
    if category == 2:
        room = "".join(rng.choice(string.ascii_letters) for _ in range(8))
        return f"/ws/call/{room}/?{query}"
    if category == 3:  # the participant's own room, with a forged role and name
        return f"/ws/stt/room/?consultation={CONSULTATION_A}&{query}"
    if category == 4:
        return f"/ws/stt/?{query}"
    return f"/ws/stt/admin/?{query}"


async def attempt(server: LiveServer, accounts: Accounts, path: str, frame: str) -> int:
    """Open a socket as a participant, send one junk frame, close; return the HTTP status."""
    doctor = accounts.handshake(server, "doctor")
    try:
        async with connect(server.ws + path, open_timeout=10, max_size=None, **doctor) as ws:
            try:
                await ws.send(frame)
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed:
                pass
        return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def series_labels(samples: dict[SeriesKey, float]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for _, labels in samples:
        for name, label_value in labels:
            found.setdefault(name, set()).add(label_value)
    found.pop("le", None)
    return found


def reached_app(samples: dict[SeriesKey, float]) -> float:
    return sum(
        v
        for (name, _), v in samples.items()
        if name in ("vidai_websocket_connections_opened_total",
                    "vidai_websocket_connections_rejected_total")
    )  # fmt: skip


async def test_hostile_handshakes_get_clear_answers_and_exact_counts(
    asgi_server: LiveServer, accounts: Accounts
):
    server = asgi_server
    rng = random.Random(6455)
    # One of each kind first, so every series the run can touch exists before it.
    for category in range(6):
        await attempt(server, accounts, hostile_path(rng, category), "warm-up")
    idle = lambda s: all(  # noqa: E731
        value(s, "vidai_websocket_connections", type=t) == 0 for t in KNOWN_TYPES
    )
    before = await asyncio.to_thread(server.wait_for, idle)

    statuses = [
        await attempt(server, accounts, hostile_path(rng, rng.randrange(6)), junk(rng) + BIG_FRAME)
        for _ in range(ATTEMPTS)
    ]
    after = await asyncio.to_thread(server.wait_for, idle)

    assert all(status < 500 for status in statuses), sorted(set(statuses))
    assert set(statuses) <= {101, 403}, sorted(set(statuses))
    assert set(after) == set(before), set(after) ^ set(before)
    for label, values in series_labels(after).items():
        assert values <= CONTRACT_VALUES[label], (label, values - CONTRACT_VALUES[label])
    assert reached_app(after) - reached_app(before) == ATTEMPTS
    accepted = sum(1 for status in statuses if status == 101)
    opened = sum(
        v - before.get((name, labels), 0.0)
        for (name, labels), v in after.items()
        if name == "vidai_websocket_connections_opened_total"
    )
    assert opened == accepted

    for _ in range(200):
        status, _ = server.get("/consultation/socket-status/?" + quoted(junk(rng)))
        assert status == 200
        status, _ = server.get("/" + quoted(junk(rng)))
        assert status < 500
    # No client input made our code raise: not the gate, not a consumer.
    server.stop()  # flush and close the log
    log = server.log()
    assert "/ws/stt/" in log  # the log really was captured
    assert "Traceback" not in log
