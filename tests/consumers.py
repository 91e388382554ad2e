"""Inline consumers the in-process tests drive through ``channels.testing``."""

from channels.generic.websocket import AsyncWebsocketConsumer

# How long tests.asgi_app's Busy consumer holds the event loop per frame. Here,
# not there: importing tests.asgi_app declares its socket types in the test process.
BUSY_FRAME_SECONDS = 0.2


class Echo(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if text_data == "close-please":
            await self.close(code=4001)
        elif text_data == "raise-please":
            raise RuntimeError("receive failed")
        else:
            await self.send(text_data=text_data, bytes_data=bytes_data)


class Deny(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.close()


class RaiseBeforeAccept(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        raise RuntimeError("connect failed")


class RaiseAfterAccept(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        raise RuntimeError("connect failed after accept")
