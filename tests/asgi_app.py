"""Vidai's ASGI app plus tracked routes whose consumers fail on purpose."""

import asyncio
import os
import time

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.demo.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from consultation.origin import OriginCheck  # noqa: E402
from consultation.routing import websocket_urlpatterns  # noqa: E402
from metrics import StatusFastPath, track, track_rejections, with_metrics_listener  # noqa: E402
from tests.consumers import BUSY_FRAME_SECONDS  # noqa: E402
from vidai.asgi import STATUS_PATH  # noqa: E402


class FailInConnect(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        raise RuntimeError("connect failed before accept")


class FailAfterAccept(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        raise RuntimeError("connect failed after accept")


class FailInReceive(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raise RuntimeError("receive failed")


class FailInDisconnect(AsyncWebsocketConsumer):
    async def disconnect(self, code: int) -> None:
        raise RuntimeError("disconnect failed")


class FailingGroupDiscard(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add("fault-group", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        # An invalid group name: the channel layer itself raises.
        await self.channel_layer.group_discard("not a valid group!", self.channel_name)


class SlowDisconnect(AsyncWebsocketConsumer):
    async def disconnect(self, code: int) -> None:
        # Longer than daphne's --application-close-timeout in the tests (2 s):
        # daphne cancels the app; uvicorn lets it finish.
        await asyncio.sleep(4)


class Busy(AsyncWebsocketConsumer):
    """Answer each frame after 200 ms of CPU work on the event loop: clients keep it saturated."""

    async def receive(self, text_data=None, bytes_data=None) -> None:
        deadline = time.perf_counter() + BUSY_FRAME_SECONDS
        while time.perf_counter() < deadline:
            pass
        await self.send(text_data=text_data)


class Echo(AsyncWebsocketConsumer):
    """Accept anyone and echo every text frame: load for tests of the exporter itself."""

    async def receive(self, text_data=None, bytes_data=None) -> None:
        await self.send(text_data=text_data)


fault_routes = [
    path("ws/test/echo/", track("test_echo", Echo.as_asgi())),
    path("ws/test/busy/", track("test_busy", Busy.as_asgi())),
    path("ws/test/fail-connect/", track("fault_connect", FailInConnect.as_asgi())),
    path("ws/test/fail-accepted/", track("fault_accepted", FailAfterAccept.as_asgi())),
    path("ws/test/fail-receive/", track("fault_receive", FailInReceive.as_asgi())),
    path("ws/test/fail-disconnect/", track("fault_disconnect", FailInDisconnect.as_asgi())),
    path("ws/test/fail-discard/", track("fault_discard", FailingGroupDiscard.as_asgi())),
    path("ws/test/slow-disconnect/", track("fault_slow", SlowDisconnect.as_asgi())),
]

application = with_metrics_listener(
    ProtocolTypeRouter(
        {
            "http": StatusFastPath(django_asgi_app, path=STATUS_PATH),
            "websocket": track_rejections(
                OriginCheck(
                    AuthMiddlewareStack(
                        URLRouter(
                            [*websocket_urlpatterns[:-1], *fault_routes, websocket_urlpatterns[-1]]
                        )
                    )
                )
            ),
        }
    )
)
