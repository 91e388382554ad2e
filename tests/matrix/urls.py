from django.urls import include, path

from metrics.views import SocketStatusView

urlpatterns = [
    path("", include("metrics.urls")),
    path("socket-status/", SocketStatusView.as_view(), name="socket-status"),
]
