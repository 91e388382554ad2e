"""ASGI entry point: HTTP to Django, WebSockets to the tracked Channels routes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vidai.settings")
# Set up Django before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from consultation.origin import OriginCheck  # noqa: E402
from consultation.routing import websocket_urlpatterns  # noqa: E402
from metrics import StatusFastPath, track_rejections, with_metrics_listener  # noqa: E402

# Where consultation.urls mounts the status JSON; the fast path answers it first.
STATUS_PATH = "/consultation/socket-status/"

# with_metrics_listener: /metrics on VIDAI_METRICS_LISTEN too, answered off the
# event loop from startup (one process; under gunicorn the master's when_ready
# hook serves the host instead).
application = with_metrics_listener(
    ProtocolTypeRouter(
        {
            # The polled status JSON is answered before Django's middleware stack.
            "http": StatusFastPath(django_asgi_app, path=STATUS_PATH),  # type: ignore[arg-type]
            # Other sites' pages are refused (4400) before the session is read; the
            # consumers refuse the rest (consultation.guard). Refusals before a
            # tracked route are counted too.
            "websocket": track_rejections(
                OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
            ),
        }
    )
)
