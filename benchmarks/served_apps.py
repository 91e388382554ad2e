"""The ASGI apps the real-server benchmarks serve: Vidai's routes tracked, and the same unwrapped.

``tracked`` is what Vidai serves (``track()`` on every route, ``track_rejections``
around the stack, the Origin check and sessions inside); the untracked stack is
the same with every ``track()`` replaced by the app it wraps and no
``track_rejections``; ``both`` serves the two side by side in one process. Both answer HTTP
as Vidai does, so a server is ready when its status JSON answers.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.demo.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import URLPattern  # noqa: E402

from consultation.origin import OriginCheck  # noqa: E402
from consultation.routing import websocket_urlpatterns  # noqa: E402
from metrics import (  # noqa: E402
    StatusFastPath,
    TrackedSocket,
    track_rejections,
    with_metrics_listener,
)
from vidai.asgi import STATUS_PATH  # noqa: E402

from .server_cpu import UNTRACKED_PREFIX  # noqa: E402


def _unwrapped(route: URLPattern) -> URLPattern:
    callback = route.callback
    if isinstance(callback, TrackedSocket):
        return URLPattern(route.pattern, callback.app, route.default_args, route.name)
    return route


def _application(websocket: object) -> object:
    return with_metrics_listener(
        ProtocolTypeRouter(
            {"http": StatusFastPath(django_asgi_app, path=STATUS_PATH), "websocket": websocket}
        )
    )


tracked_sockets = track_rejections(
    OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
)
untracked_sockets = OriginCheck(
    AuthMiddlewareStack(URLRouter([_unwrapped(route) for route in websocket_urlpatterns]))
)
tracked = _application(tracked_sockets)
untracked = _application(untracked_sockets)


async def _both(scope: Any, receive: Any, send: Any) -> None:
    # Both stacks in one process, so a comparison of their CPU cannot be a
    # difference between two processes (heap, caches, where each one runs).
    path = scope.get("path", "")
    if path.startswith(UNTRACKED_PREFIX + "/"):
        await untracked_sockets({**scope, "path": path[len(UNTRACKED_PREFIX) :]}, receive, send)
    else:
        await tracked_sockets(scope, receive, send)


# /ws/... through the tracked stack, /untracked/ws/... through the other one.
both = _application(_both)
