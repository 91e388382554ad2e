"""The product tests' WebSocket routes: five tracked types and the catch-all.

A minimal project of its own (echo and refusing consumers, no authentication),
its types named as a video and speech service would name them.
"""

from django.urls import path, re_path

from metrics import track, unrouted
from metrics.asgi.routes import tracked_endpoints

from .consumers import Deny, Echo

websocket_urlpatterns = [
    path("ws/call/<str:room>/", track("call", Echo.as_asgi())),
    path("ws/stt/", track("stt", Echo.as_asgi())),
    path("ws/stt/rooms/<str:room>/", track("stt_room", Echo.as_asgi())),
    path("ws/stt/sales/", track("stt_sales", Echo.as_asgi())),
    path("ws/stt/admin/", track("stt_admin", Deny.as_asgi())),
    re_path(r"", unrouted()),
]

# The socket types the routes declare, in order.
TYPES = tuple(tracked_endpoints(websocket_urlpatterns))
