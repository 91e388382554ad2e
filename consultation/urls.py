from django.urls import path

from metrics.views import SocketListView, SocketStatusView

from . import pages

app_name = "consultation"

# The status JSON's path is also vidai.asgi's STATUS_PATH, where the fast path answers it.
urlpatterns = [
    path("socket-status/", SocketStatusView.as_view(), name="socket-status"),
    path("socket-status/sockets/", SocketListView.as_view(), name="socket-list"),
    path("socket-status/ui/", pages.status_page, name="socket-status-ui"),
    path("socket-status/ui/assets/<str:name>", pages.bundle_asset, name="socket-status-asset"),
]
