"""What a closed socket leaves behind in the tracker, and what an open one costs.

The demo's soak (tests/demo/test_soak.py) watches a server's resident memory,
which mostly shows the allocator's high-water mark. These tests count the
objects themselves, in process, where they can be counted exactly.
"""

import asyncio
import gc
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from metrics import track

from ..consumers import Echo


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


HELD = 300


async def _objects_per_held_socket(app: Any) -> float:
    """Garbage-collected objects per socket while HELD raw sockets are open through ``app``."""
    release = asyncio.Event()
    all_accepted = asyncio.Event()
    accepted: list[int] = []

    def session(n: int) -> Any:
        delivered = [False]

        async def receive() -> dict[str, Any]:
            if not delivered[0]:
                delivered[0] = True
                return {"type": "websocket.connect"}
            await release.wait()
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.accept":
                accepted.append(n)
                if len(accepted) == HELD:
                    all_accepted.set()

        scope = {"type": "websocket", "path": "/ws/raw/", "headers": [], "query_string": b""}
        return app(scope, receive, send)

    gc.collect()
    before = len(gc.get_objects())
    tasks = [asyncio.ensure_future(session(n)) for n in range(HELD)]
    await all_accepted.wait()
    gc.collect()
    held = len(gc.get_objects()) - before
    release.set()
    await asyncio.gather(*tasks)
    return held / HELD


async def test_tracking_adds_four_objects_per_open_socket_at_most(tracker) -> None:
    """What the garbage collector walks per held socket: one connection for both wrappers.

    A coroutine for track_rejections(), the connection (which is also the
    app's send), its bound receive and that receive's pending coroutine. The
    live registry's entry is a tuple of strings and integers, which a
    collection stops tracking. Two wrappers of their own each once cost 12.
    """
    from channels.routing import URLRouter
    from django.urls import path

    from metrics import track_rejections

    async def raw_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    untracked = URLRouter([path("ws/raw/", raw_app)])
    tracked = track_rejections(
        URLRouter([path("ws/raw/", track("raw", raw_app, tracker=tracker))]), tracker=tracker
    )
    await _objects_per_held_socket(tracked)  # warm-up: the type's series exist
    added = await _objects_per_held_socket(tracked) - await _objects_per_held_socket(untracked)
    # round(): the run's own few objects (a list grown once) are not per socket.
    assert 0 < round(added) <= 4
    assert len(tracker.live) == 0
