"""The product tests' URLconf: /metrics, the status JSON and the staff listing."""

from django.urls import include, path

from metrics.views import SocketListView, SocketStatusView

urlpatterns = [
    path("", include("metrics.urls")),
    path("socket-status/", SocketStatusView.as_view(), name="socket-status"),
    path("sockets/", SocketListView.as_view(), name="socket-list"),
]
