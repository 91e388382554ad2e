"""The scale benchmark's minimal foreign Channels project, tracked and untracked.

Two echo routes, ``track()``ed, ``track_rejections()`` around them, the status
JSON at the ASGI boundary and the dedicated ``/metrics`` listener. The same
routes are also served under ``/untracked/`` without ``track()`` and
``track_rejections()``: the exporter installed, nothing counted; and under
``/passthrough/`` behind ``PassThrough``, the least any middleware that sees
the messages adds. Both come first in the router, so that a tracked
handshake pays two more pattern matches. Serve it as ``uvicorn
benchmarks.scale_project:application --workers N`` with
``PROMETHEUS_MULTIPROC_DIR`` set. No database.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.scale_settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from metrics import StatusFastPath, track, track_rejections, with_metrics_listener  # noqa: E402

from .passthrough import PassThrough  # noqa: E402

STATUS_PATH = "/socket-status/"
UNTRACKED_PREFIX = "/untracked"
PASSTHROUGH_PREFIX = "/passthrough"


class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Send every frame back."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


tracked_routes = [
    path("ws/echo/", track("echo", Echo.as_asgi())),
    path("ws/chat/", track("chat", Echo.as_asgi())),
]
untracked_routes = [path("ws/echo/", Echo.as_asgi()), path("ws/chat/", Echo.as_asgi())]
websocket_routes: list[Any] = [
    path(UNTRACKED_PREFIX.lstrip("/") + "/", URLRouter(untracked_routes)),
    path(PASSTHROUGH_PREFIX.lstrip("/") + "/", PassThrough(URLRouter(untracked_routes))),
    path("", track_rejections(URLRouter(tracked_routes))),
]
application = with_metrics_listener(
    ProtocolTypeRouter(
        {
            "http": StatusFastPath(django_asgi_app, path=STATUS_PATH),  # type: ignore[arg-type]
            "websocket": URLRouter(websocket_routes),
        }
    )
)
