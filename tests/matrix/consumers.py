"""The matrix's consumers: an echo that can close or fail on request, and a refusal.

``heard()`` wraps the echo inside ``track()`` and prints, for each socket, the
code of every ``websocket.disconnect`` its server hands the app and whether the
app was cancelled: the server's log is the one place the matrix can read them.
A socket names itself by its ``tag`` query parameter (test code only: the
product never looks at query strings).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

# The code the echo closes with when asked, and the refusal's (docs/metrics.md's "forbidden").
SERVER_CLOSE_CODE = 4000
REFUSAL_CODE = 4403
# Log line prefixes: "<HEARD> <tag> <code>" and "<CANCELLED> <tag>".
HEARD = "matrix heard disconnect"
CANCELLED = "matrix app cancelled"


class Echo(AsyncWebsocketConsumer):
    """Echo text and bytes; the text ``close`` closes with 4000, ``raise`` raises."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "close":
            await self.close(code=SERVER_CLOSE_CODE)
        elif text_data == "raise":
            raise RuntimeError("the echo fails after accept, on request")
        else:
            await self.send(text_data=text_data, bytes_data=bytes_data)


class Refuse(AsyncWebsocketConsumer):
    """Refuse every handshake before accept, naming the reason by its code."""

    async def connect(self) -> None:
        await self.close(code=REFUSAL_CODE)


def heard(app: Any) -> Any:
    """Wrap an ASGI app to print what its server tells it about each socket's end."""

    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode())
        tag = query.get("tag", ["-"])[0]

        async def heard_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                print(HEARD, tag, message.get("code"), flush=True)
            return message

        try:
            return await app(scope, heard_receive, send)
        except asyncio.CancelledError:
            print(CANCELLED, tag, flush=True)
            raise

    return wrapper
