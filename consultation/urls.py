from django.urls import path

from . import views

app_name = "consultation"

urlpatterns = [
    path("socket-status/", views.socket_status, name="socket-status"),
]
