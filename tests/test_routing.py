from channels.generic.websocket import WebsocketConsumer
from channels.routing import URLRouter
from django.urls import path, re_path

from metrics import track, unrouted
from metrics.routing import tracked_endpoints


class WithQuery(WebsocketConsumer):
    query_params = ("role", "name")


def test_endpoints_come_from_the_routing_table(tracker) -> None:
    feed = track("stt_sales", WebsocketConsumer.as_asgi(), tracker=tracker)
    routes = [
        path("ws/call/<str:room>/", track("call", WebsocketConsumer.as_asgi(), tracker=tracker)),
        path("ws/stt/room/", track("stt_room", WithQuery.as_asgi(), tracker=tracker)),
        path("nested/", URLRouter([re_path(r"^feed/(?P<feed>\w+)/$", feed)])),
        re_path(r"", unrouted(tracker=tracker)),
    ]
    assert tracked_endpoints(routes) == {
        "call": "/ws/call/<room>/",
        "stt_room": "/ws/stt/room/?role=<role>&name=<name>",
        "stt_sales": "/nested/feed/<feed>/",
    }
