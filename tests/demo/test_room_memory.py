"""What a room member whose client has gone leaves behind: nothing in the channel layer."""

import asyncio
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from uvicorn.protocols.utils import ClientDisconnected

from consultation.access import group_for
from consultation.consumers import SttRoomConsumer

from ..accounts import CONSULTATION_A, db_user

ROOM_GROUP = group_for("stt_room", CONSULTATION_A)
ROOM_QUERY = f"consultation={CONSULTATION_A}"


@pytest.mark.usefixtures("accounts_db")
async def test_room_member_whose_client_has_gone_leaves_the_room(layer: Any) -> None:
    """A relay to a client that has just gone: the server's send raises (uvicorn).

    The consumer stops sending, without a traceback, and leaves the room at
    the websocket.disconnect the server delivers next. Before, the error
    ended the consumer (a server error in the log) and, without the consumer's
    own cleanup, the dead channel stayed in the room and the layer kept a
    copy of every later broadcast for it.
    """
    stays = WebsocketCommunicator(SttRoomConsumer.as_asgi(), "/ws/stt/room/?" + ROOM_QUERY)
    stays.scope["user"] = await db_user("doctor")
    assert (await stays.connect())[0]
    assert (await stays.receive_json_from())["event"] == "joined"

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    client_gone = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if client_gone.is_set():
            raise ClientDisconnected()

    scope = {"type": "websocket", "path": "/ws/stt/room/", "query_string": ROOM_QUERY.encode(),
             "headers": [], "subprotocols": [], "user": await db_user("patient")}  # fmt: skip
    goes = asyncio.create_task(SttRoomConsumer.as_asgi()(scope, inbox.get, send))
    assert (await stays.receive_json_from())["event"] == "joined"
    assert len(layer.groups[ROOM_GROUP]) == 2

    client_gone.set()
    segment = {"type": "room.event", "event": "segment", "role": "doctor", "name": "Dr Ada Byron"}
    segment["text"] = "hi"
    await layer.group_send(ROOM_GROUP, segment)
    await layer.group_send(ROOM_GROUP, segment)  # a second relay: dropped, no raise
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})
    assert await asyncio.wait_for(goes, 5) is None

    # Only the doctor's channel is still in the room, and a later broadcast
    # queues nothing for a channel nobody reads.
    assert len(layer.groups[ROOM_GROUP]) == 1
    (doctor,) = layer.groups[ROOM_GROUP]
    await layer.group_send(ROOM_GROUP, segment)
    assert set(layer.channels) <= {doctor}
    # And the doctor hears that the patient left.
    relayed = {key: v for key, v in segment.items() if key != "type"}
    assert await stays.receive_json_from() == relayed
    assert await stays.receive_json_from() == relayed
    assert await stays.receive_json_from() == {
        "event": "left",
        "role": "patient",
        "name": "Pat Lee",
    }
    assert await stays.receive_json_from() == relayed

    await stays.disconnect()
    assert layer.groups == {}  # the room's group and both users' groups are gone
