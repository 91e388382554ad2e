"""What a closed socket leaves behind: nothing in the tracker, nothing in the channel layer.

The soak (tests/test_soak.py) watches the server's resident memory, which mostly
shows the allocator's high-water mark. These tests check the leaks themselves,
in process, where they can be counted exactly.
"""

import asyncio
import gc
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from uvicorn.protocols.utils import ClientDisconnected

from consultation.consumers import STT_ROOM_GROUP, SttRoomConsumer
from metrics import track

from .consumers import Echo

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
async def layer(settings: Any) -> Any:
    settings.CHANNEL_LAYERS = IN_MEMORY  # a fresh layer, whatever REDIS_URL says
    channel_layer = get_channel_layer()
    yield channel_layer
    await channel_layer.flush()


async def test_room_member_whose_client_has_gone_leaves_the_room(layer: Any) -> None:
    """A relay to a client that has just gone raises, as uvicorn's send does.

    Channels then never calls disconnect(): without the consumer's own cleanup
    the dead channel stayed in the room and the layer kept a copy of every
    later broadcast for it.
    """
    stays = WebsocketCommunicator(SttRoomConsumer.as_asgi(), "/ws/stt/room/?role=doctor&name=Bo")
    assert (await stays.connect())[0]
    assert (await stays.receive_json_from())["event"] == "joined"

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    client_gone = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if client_gone.is_set():
            raise ClientDisconnected()

    scope = {"type": "websocket", "path": "/ws/stt/room/", "query_string": b"role=nurse&name=Ada",
             "headers": [], "subprotocols": []}  # fmt: skip
    goes = asyncio.create_task(SttRoomConsumer.as_asgi()(scope, inbox.get, send))
    assert (await stays.receive_json_from())["event"] == "joined"
    assert len(layer.groups[STT_ROOM_GROUP]) == 2

    client_gone.set()
    segment = {"type": "room.event", "event": "segment", "role": "doctor", "name": "Bo"}
    segment["text"] = "hi"
    await layer.group_send(STT_ROOM_GROUP, segment)
    with pytest.raises(ClientDisconnected):
        await asyncio.wait_for(goes, 5)

    # Only Bo's channel is still in the room, and a later broadcast queues
    # nothing for a channel nobody reads.
    assert len(layer.groups[STT_ROOM_GROUP]) == 1
    (bo,) = layer.groups[STT_ROOM_GROUP]
    await layer.group_send(STT_ROOM_GROUP, segment)
    assert set(layer.channels) <= {bo}
    # And Bo hears that Ada left.
    relayed = {key: v for key, v in segment.items() if key != "type"}
    assert await stays.receive_json_from() == relayed
    assert await stays.receive_json_from() == {"event": "left", "role": "nurse", "name": "Ada"}
    assert await stays.receive_json_from() == relayed

    await stays.disconnect()
    assert STT_ROOM_GROUP not in layer.groups


async def test_tracked_sessions_keep_no_objects(tracker: Any, layer: Any) -> None:
    """Hundreds of sessions, ended every way, keep no Python object alive."""
    app = track("call", Echo.as_asgi(), tracker=tracker)

    async def session(ending: str) -> None:
        communicator = WebsocketCommunicator(app, "/ws/")
        assert (await communicator.connect())[0]
        await communicator.send_to(text_data="hello")
        assert await communicator.receive_from() == "hello"
        if ending == "client":
            await communicator.disconnect()
        elif ending == "server":
            await communicator.send_to(text_data="close-please")
            assert (await communicator.receive_output())["type"] == "websocket.close"
            await communicator.disconnect(code=4001)
        else:
            await communicator.send_to(text_data="raise-please")
            with pytest.raises(RuntimeError):
                await communicator.wait()

    async def sessions(count: int) -> None:
        for n in range(count):
            await session(("client", "server", "raise")[n % 3])

    await sessions(60)  # first-use caches, metric children, lazily imported code
    gc.collect()
    before = len(gc.get_objects())
    await sessions(600)
    gc.collect()
    assert len(gc.get_objects()) - before < 60  # well under one object per ten sessions
    assert len(tracker.live) == 0
    assert list(layer.channels) == []
    assert layer.groups == {}
