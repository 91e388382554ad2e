"""The scale benchmark's minimal foreign Channels project, served tracked or untracked.

Two echo routes, ``track()``ed, ``track_rejections()`` around them, the status
JSON at the ASGI boundary and the dedicated ``/metrics`` listener. With
``VIDAI_SCALE_TRACKED=0`` the same project is served with ``track()`` and
``track_rejections()`` as the identity: the exporter installed, nothing counted.
Serve it as ``uvicorn benchmarks.scale_project:application --workers N`` with
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

STATUS_PATH = "/socket-status/"
TRACKED = os.environ.get("VIDAI_SCALE_TRACKED", "1") == "1"


class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Send every frame back."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


def _route(socket_type: str) -> Any:
    return track(socket_type, Echo.as_asgi()) if TRACKED else Echo.as_asgi()


websocket_routes = [path("ws/echo/", _route("echo")), path("ws/chat/", _route("chat"))]
_sockets = URLRouter(websocket_routes)
application = with_metrics_listener(
    ProtocolTypeRouter(
        {
            "http": StatusFastPath(django_asgi_app, path=STATUS_PATH),  # type: ignore[arg-type]
            "websocket": track_rejections(_sockets) if TRACKED else _sockets,
        }
    )
)
