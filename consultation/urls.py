from django.urls import path

from . import pages, views

app_name = "consultation"

urlpatterns = [
    path("socket-status/", views.socket_status, name="socket-status"),
    path("socket-status/sockets/", views.socket_list, name="socket-list"),
    path("socket-status/ui/", pages.status_page, name="socket-status-ui"),
    path("socket-status/ui/assets/<str:name>", pages.bundle_asset, name="socket-status-asset"),
]
