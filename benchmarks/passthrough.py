"""``PassThrough``: a middleware that sees every message and counts nothing (the floor)."""

from __future__ import annotations

from typing import Any


class PassThrough:
    """A middleware that wraps ``receive`` and ``send`` and counts nothing: the floor."""

    _path_routing = True  # a prefix for a nested router, as track_rejections() is

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        async def passed_receive() -> Any:
            return await receive()

        async def passed_send(message: Any) -> None:
            await send(message)

        return await self.app(scope, passed_receive, passed_send)
