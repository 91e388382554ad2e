from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import WebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.test import override_settings
from django.urls import path, re_path
from prometheus_client import CollectorRegistry

from metrics import track, track_rejections, unrouted
from metrics.asgi.routes import (
    find_routes,
    path_template,
    project_routes,
    tracked_endpoints,
    untracked_routes,
)
from metrics.conf import get_settings
from metrics.core.tracker import SocketTracker
from metrics.http.status import ws_endpoints


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


# A foreign project's ASGI application, found through its middleware. Its
# tracker is its own, so the "chat" type stays out of this process's default.
chat_tracker = SocketTracker(CollectorRegistry())
chat_routes = [
    path("ws/chat/<str:room>/", track("chat", WebsocketConsumer.as_asgi(), tracker=chat_tracker))
]
foreign_application = ProtocolTypeRouter(
    {
        "http": lambda scope, receive, send: None,
        "websocket": track_rejections(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(chat_routes)))
        ),
    }
)


def test_routes_are_found_through_protocol_router_and_middleware() -> None:
    assert find_routes(foreign_application) == chat_routes
    assert find_routes(lambda scope, receive, send: None) is None


@override_settings(ASGI_APPLICATION="tests.asgi.test_routing.foreign_application", VIDAI_METRICS={})
def test_without_websocket_routes_the_asgi_application_names_the_types() -> None:
    assert get_settings().websocket_routes is None
    assert project_routes() == chat_routes
    assert ws_endpoints() == {"chat": "/ws/chat/<room>/"}


@override_settings(
    VIDAI_METRICS={"WEBSOCKET_ROUTES": "tests.asgi.test_routing.chat_routes"}, ASGI_APPLICATION=None
)
def test_websocket_routes_name_them_explicitly() -> None:
    assert ws_endpoints() == {"chat": "/ws/chat/<room>/"}


def test_the_configured_routes_give_the_types_and_path_templates() -> None:
    assert set(ws_endpoints()) == {"call", "stt", "stt_room", "stt_sales", "stt_admin"}
    assert path_template(project_routes(), "/ws/call/r42/") == "/ws/call/<room>/"
    assert path_template(project_routes(), "/ws/nowhere/") is None


def test_per_route_middleware_around_a_tracked_app_is_still_tracked() -> None:
    routes = [
        path(
            "ws/chat/<str:room>/",
            AuthMiddlewareStack(track("chat", WebsocketConsumer.as_asgi(), tracker=chat_tracker)),
        ),
        path("ws/plain/", AuthMiddlewareStack(WebsocketConsumer.as_asgi())),
    ]
    assert tracked_endpoints(routes) == {"chat": "/ws/chat/<room>/"}
    assert untracked_routes(routes) == ["/ws/plain/"]
    assert path_template(routes, "/ws/chat/r1/") == "/ws/chat/<room>/"
