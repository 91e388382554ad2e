"""The project's ASGI application: Django for HTTP, two tracked routes and a catch-all.

With ``MATRIX_ATEXIT_DIR`` set, each process serving it writes a file named
after its pid there from an ``atexit`` handler: the matrix reads which of a
server's processes ran their exit handlers.
"""

import atexit
import os
from pathlib import Path

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.matrix.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from metrics import track, track_rejections, unrouted, with_metrics_listener  # noqa: E402

from .consumers import Echo, Refuse, heard  # noqa: E402

websocket_urlpatterns = [
    path("ws/echo/", track("echo", heard(Echo.as_asgi()))),
    path("ws/refuse/", track("refuse", Refuse.as_asgi())),
    re_path(r"", unrouted()),
]

# As the README's quickstart: the listener (when LISTEN is set) and, at
# lifespan shutdown, a worker's sockets its server never ended counted.
application = with_metrics_listener(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": track_rejections(URLRouter(websocket_urlpatterns)),
        }
    )
)


def _exited(directory: str) -> None:
    Path(directory, str(os.getpid())).write_text("exit handlers ran\n")


if os.environ.get("MATRIX_ATEXIT_DIR"):
    atexit.register(_exited, os.environ["MATRIX_ATEXIT_DIR"])
