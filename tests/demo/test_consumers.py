"""Vidai's consumers against any client frame: an answer, never a dead socket.

Driven through the project's own routes (``consultation.routing``) with
channels.testing, so the counts read are the ones ``/metrics`` would show.
"""

from collections.abc import AsyncIterator

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from prometheus_client import REGISTRY

from consultation.routing import websocket_urlpatterns

from ..accounts import CONSULTATION_A, db_user
from .conftest import VIDAI_TYPES

# The consumers read participants from the database.
pytestmark = pytest.mark.usefixtures("accounts_db")

CLOSED = "vidai_websocket_connections_closed_total"
TYPES = VIDAI_TYPES
PATHS = {
    "call": f"/ws/call/{CONSULTATION_A}/",
    "stt": f"/ws/stt/?consultation={CONSULTATION_A}",
    "stt_room": f"/ws/stt/room/?consultation={CONSULTATION_A}",
    "stt_sales": "/ws/stt/sales/",
    "stt_admin": "/ws/stt/admin/",
}
# Frames that used to raise inside the consumers, or could.
MALFORMED = {
    "unhashable type (list)": '{"type": []}',
    "unhashable type (object)": '{"type": {}}',
    "numeric type": '{"type": 7}',
    "unknown type": '{"type": "segment.evil"}',
    "nested arrays past the decoder's stack": "[" * 60_000,
    "nested objects past the decoder's stack": '{"a":' * 10_000,
    "deep but decodable nesting": '{"type": "offer", "sdp": ' + "[" * 500 + "]" * 500 + "}",
    # Valid JSON that msgpack (channels_redis) cannot carry.
    "lone surrogate in text": '{"type": "segment", "text": "\\ud800", "candidate": "\\udfff"}',
    "lone surrogate in a key": '{"type": "offer", "\\ud800": 1}',
    "integer past 64 bits": '{"type": "offer", "sdp": 18446744073709551616}',
    "negative integer past 64 bits": '{"type": "ping", "n": -9223372036854775809}',
    # Python reads these; relayed to a peer, they are not JSON.
    "NaN": '{"type": "offer", "sdp": NaN}',
    "Infinity": '{"type": "segment", "text": "x", "final": [-Infinity]}',
    "float past double": '{"type": "answer", "sdp": 1e400}',
    "array body": "[1, 2, 3]",
    "string body": '"hello"',
    "null body": "null",
    "number body": "1e400",
    "not JSON": "{'type': 'offer'}",
    "empty frame": "",
}


# A valid frame for each type, and what its answer holds. A call relays to the
# other peers only, so the call's own answer is the error for a bad signal.
STILL_SERVING = {
    "call": ({"type": "bogus"}, {"type": "error"}),
    "stt": ({"type": "segment", "text": "still here"}, {"type": "ack"}),
    "stt_room": ({"text": "still here"}, {"event": "segment", "text": "still here"}),
    "stt_sales": ({"type": "ping"}, {"type": "pong"}),
    "stt_admin": ({"type": "ping"}, {"type": "pong"}),
}


# Who may open each type: the feeds are staff's, the rooms consultation A's.
USERS = {"stt_sales": "staff", "stt_admin": "staff"}


def internal_errors() -> float:
    return sum(
        REGISTRY.get_sample_value(
            CLOSED, {"type": t, "reason": "internal_error", "initiator": "server"}
        )
        or 0.0
        for t in TYPES
    )


@pytest.fixture
async def app() -> AsyncIterator[URLRouter]:
    errors_before = internal_errors()
    # A layer that refuses what Redis's msgpack would: the consumers must too.
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "tests.layers.PackingChannelLayer"}}
    ):
        yield URLRouter(websocket_urlpatterns)
    assert internal_errors() == errors_before


async def opened(
    app: URLRouter, socket_type: str, username: str | None = None
) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(app, PATHS[socket_type])
    communicator.scope["user"] = await db_user(username or USERS.get(socket_type, "doctor"))
    connected, _ = await communicator.connect()
    assert connected, socket_type
    if socket_type == "stt_admin":
        assert await communicator.receive_json_from() == {"type": "welcome", "feed": "admin"}
    if socket_type == "stt_room":
        assert (await communicator.receive_json_from())["event"] == "joined"
    return communicator


async def test_a_segment_reaches_every_feed_and_kills_none(app) -> None:
    feeds = [await opened(app, t) for t in ("stt_sales", "stt_sales", "stt_admin")]
    stream = await opened(app, "stt")
    for n in range(3):
        await stream.send_json_to({"type": "segment", "text": f"segment {n}", "final": n == 2})
        assert await stream.receive_json_from() == {"type": "ack", "seq": n + 1}
        for feed in feeds[:2]:
            assert await feed.receive_json_from() == {
                "type": "segment",
                "text": f"segment {n}",
                "final": n == 2,
            }
        assert await feeds[2].receive_json_from() == {"type": "segment", "text": f"segment {n}"}
    # Every feed still answers after the segments.
    for feed in feeds:
        await feed.send_json_to({"type": "ping"})
        assert await feed.receive_json_from() == {"type": "pong"}
        await feed.disconnect()
    await stream.disconnect()


async def test_a_segment_cannot_set_the_event_type(app) -> None:
    feed = await opened(app, "stt_sales")
    stream = await opened(app, "stt")
    # Keys a client may add never become the channel-layer event's keys.
    await stream.send_json_to({"type": "segment", "text": "hi", "final": True, "sender": "x"})
    assert await stream.receive_json_from() == {"type": "ack", "seq": 1}
    assert await feed.receive_json_from() == {"type": "segment", "text": "hi", "final": True}
    await feed.disconnect()
    await stream.disconnect()


@pytest.mark.parametrize("socket_type", TYPES)
@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_frame_gets_an_error_and_the_socket_stays_open(
    app, socket_type: str, frame: str
) -> None:
    communicator = await opened(app, socket_type)
    # send_input, not send_to: the test kit refuses an empty text frame.
    await communicator.send_input({"type": "websocket.receive", "text": frame})
    answer = await communicator.receive_json_from()
    assert answer["type"] == "error"
    assert isinstance(answer["error"], str)
    # Still open and serving: a valid frame gets its normal answer.
    await communicator.send_json_to(STILL_SERVING[socket_type][0])
    answer = await communicator.receive_json_from()
    assert STILL_SERVING[socket_type][1].items() <= answer.items(), answer
    await communicator.disconnect()


async def test_a_binary_frame_gets_an_error_where_only_json_is_spoken(app) -> None:
    communicator = await opened(app, "call")
    await communicator.send_to(bytes_data=b"\x00\xff")
    assert await communicator.receive_json_from() == {
        "type": "error",
        "error": "binary frames are not accepted",
    }
    await communicator.disconnect()


async def test_signals_still_reach_the_other_peer(app) -> None:
    doctor, patient = await opened(app, "call"), await opened(app, "call", "patient")
    offer = {"type": "offer", "sdp": "v=0", "candidates": [{"candidate": "a", "sdpMid": "0"}]}
    await doctor.send_json_to(offer)
    assert await patient.receive_json_from() == offer
    assert await doctor.receive_nothing()
    await doctor.disconnect()
    await patient.disconnect()


async def test_a_stream_bound_to_no_consultation_reaches_no_feed(app) -> None:
    feed = await opened(app, "stt_sales")
    stream = WebsocketCommunicator(app, "/ws/stt/")
    stream.scope["user"] = await db_user("plain")
    assert (await stream.connect())[0]
    await stream.send_json_to({"type": "segment", "text": "injected"})
    assert (await stream.receive_json_from())["type"] == "error"
    await stream.send_to(bytes_data=bytes(640))  # audio is still acked
    assert (await stream.receive_json_from())["type"] == "ack"
    assert await feed.receive_nothing()
    await stream.disconnect()
    await feed.disconnect()
