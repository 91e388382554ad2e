"""Vidai's WebSocket routes, each counted by ``metrics.track``."""

from django.urls import path, re_path

from metrics import track, unrouted

from . import consumers

websocket_urlpatterns = [
    path("ws/call/<str:room>/", track("call", consumers.CallConsumer.as_asgi())),
    path("ws/stt/", track("stt", consumers.SttConsumer.as_asgi())),
    path("ws/stt/room/", track("stt_room", consumers.SttRoomConsumer.as_asgi())),
    path("ws/stt/sales/", track("stt_sales", consumers.SttSalesConsumer.as_asgi())),
    path("ws/stt/admin/", track("stt_admin", consumers.SttAdminConsumer.as_asgi())),
    # Last: anything else is denied and counted as rejected{type="unknown"}.
    re_path(r"", unrouted()),
]
