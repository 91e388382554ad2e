"""track_rejections(): handshakes refused before the routes, counted once, with the route's type."""

import asyncio
import gc

import pytest
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from channels.testing import ApplicationCommunicator, WebsocketCommunicator
from django.urls import path, re_path

from metrics import REFUSAL_CODES, track, track_rejections, unrouted
from metrics.asgi.tracking import CONNECTION_KEY, Connection

from ..consumers import Deny, Echo
from .test_tracking import assert_balanced, value

REJECTED = "vidai_websocket_connections_rejected_total"
OPENED = "vidai_websocket_connections_opened_total"
CLOSED = "vidai_websocket_connections_closed_total"
GOOD_ORIGIN = "https://clinic.test"


def rejected(registry, **labels: str) -> float:
    return value(registry, REJECTED, **labels)


def all_rejected(registry) -> float:
    return sum(
        sample.value
        for family in registry.collect()
        if family.name == "vidai_websocket_connections_rejected"
        for sample in family.samples
        if sample.name == REJECTED
    )


def stack(tracker, *, catch_all: bool = True, middleware=None):
    routes = [
        path("ws/chat/<str:room>/", track("call", Echo.as_asgi(), tracker=tracker)),
        path("ws/admin/", track("stt_admin", Deny.as_asgi(), tracker=tracker)),
        path("ws/plain/", Echo.as_asgi()),
    ]
    if catch_all:
        routes.append(re_path(r"", unrouted(tracker=tracker)))
    inner = URLRouter(routes)
    if middleware is not None:
        inner = middleware(inner)
    return track_rejections(OriginValidator(inner, [GOOD_ORIGIN]), tracker=tracker)


async def connect(app, path: str, origin: str = GOOD_ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(app, path, headers=[(b"origin", origin.encode())])
    await communicator.connect()
    return communicator


async def test_a_refused_origin_is_counted_once_with_the_route_type(registry, tracker) -> None:
    communicator = await connect(stack(tracker), "/ws/chat/r1/?name=Jane", "https://evil.test")
    assert rejected(registry, type="call", reason="denied") == 1
    assert all_rejected(registry) == 1
    assert value(registry, OPENED, type="call") == 0
    await communicator.wait()


async def test_a_refused_origin_on_no_route_is_unknown(registry, tracker) -> None:
    await connect(stack(tracker), "/ws/elsewhere/", "https://evil.test")
    assert rejected(registry, type="unknown", reason="no_route") == 1
    assert all_rejected(registry) == 1


async def test_a_socket_reaching_a_tracked_route_is_counted_there_only(registry, tracker) -> None:
    app = stack(tracker)
    communicator = await connect(app, "/ws/chat/r1/")
    assert_balanced(registry, "call", 1)
    await communicator.send_to(text_data="hi")
    assert await communicator.receive_from() == "hi"
    await communicator.disconnect()
    assert_balanced(registry, "call", 0)
    # The route's own denial is the route's to count, not counted again.
    await connect(app, "/ws/admin/")
    assert rejected(registry, type="stt_admin", reason="denied") == 1
    # So is the catch-all's.
    await connect(app, "/ws/nowhere/")
    assert rejected(registry, type="unknown", reason="no_route") == 1
    assert all_rejected(registry) == 2


async def test_without_a_catch_all_an_unmatched_path_is_no_route(registry, tracker) -> None:
    communicator = WebsocketCommunicator(
        stack(tracker, catch_all=False), "/ws/nowhere/", headers=[(b"origin", GOOD_ORIGIN.encode())]
    )
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect()
    assert rejected(registry, type="unknown", reason="no_route") == 1
    assert all_rejected(registry) == 1


async def test_middleware_failing_before_the_route_is_an_error(registry, tracker) -> None:
    def failing(inner):
        async def app(scope, receive, send):
            raise RuntimeError("session store is down")

        app.inner = inner  # where Channels' middleware keeps the app it wraps
        return app

    communicator = WebsocketCommunicator(
        stack(tracker, middleware=failing),
        "/ws/chat/r1/",
        headers=[(b"origin", GOOD_ORIGIN.encode())],
    )
    with pytest.raises(RuntimeError, match="session store"):
        await communicator.connect()
    assert rejected(registry, type="call", reason="error") == 1
    assert all_rejected(registry) == 1


async def test_an_untracked_route_is_left_to_the_system_check(registry, tracker) -> None:
    communicator = await connect(stack(tracker), "/ws/plain/")
    await communicator.send_to(text_data="hi")
    assert await communicator.receive_from() == "hi"
    await communicator.disconnect()
    assert all_rejected(registry) == 0


async def test_the_wrapper_is_transparent(registry, tracker) -> None:
    seen_scopes = []

    async def returns_a_value(scope, receive, send) -> object:
        seen_scopes.append(scope)
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
        return "not None"

    wrapped = track_rejections(returns_a_value, tracker=tracker)
    assert await wrapped({"type": "http"}, None, None) == "not None"
    scope = {"type": "websocket", "path": "/ws/x/"}
    communicator = ApplicationCommunicator(wrapped, scope)
    await communicator.send_input({"type": "websocket.connect"})
    assert await communicator.receive_output() == {"type": "websocket.accept"}
    assert await communicator.future == "not None"
    assert seen_scopes[-1] is scope  # the app gets the server's scope, untouched
    router = URLRouter([path("echo/", Echo.as_asgi())])
    assert track_rejections(router, tracker=tracker)._path_routing is True
    assert track_rejections(Echo.as_asgi(), tracker=tracker)._path_routing is False
    assert all_rejected(registry) == 0


async def test_nested_under_a_router_it_matches_the_rest_of_the_path(registry, tracker) -> None:
    # Per-route middleware around a tracked consumer: the route is still "call".
    guarded = OriginValidator(track("call", Echo.as_asgi(), tracker=tracker), [GOOD_ORIGIN])
    inner = URLRouter([path("ws/chat/<str:room>/", guarded)])
    outer = URLRouter([path("app/", track_rejections(inner, tracker=tracker))])
    await connect(outer, "/app/ws/chat/r1/", "https://evil.test")
    assert rejected(registry, type="call", reason="denied") == 1
    communicator = await connect(outer, "/app/ws/chat/r1/")
    assert_balanced(registry, "call", 1)
    await communicator.disconnect()
    assert all_rejected(registry) == 1


async def test_behind_a_root_path_it_matches_what_the_router_sees(registry, tracker) -> None:
    communicator = WebsocketCommunicator(
        stack(tracker), "/clinic/ws/chat/r1/", headers=[(b"origin", b"https://evil.test")]
    )
    communicator.scope["root_path"] = "/clinic"
    await communicator.connect()
    assert rejected(registry, type="call", reason="denied") == 1
    assert all_rejected(registry) == 1


async def test_nested_wrappers_count_a_refusal_once(registry, tracker) -> None:
    app = track_rejections(stack(tracker), tracker=tracker)
    await connect(app, "/ws/chat/r1/", "https://evil.test")
    await connect(app, "/ws/admin/")
    assert rejected(registry, type="call", reason="denied") == 1
    assert rejected(registry, type="stt_admin", reason="denied") == 1
    assert all_rejected(registry) == 2


async def test_around_one_route_it_counts_that_route(registry, tracker) -> None:
    guarded = track_rejections(
        OriginValidator(track("call", Echo.as_asgi(), tracker=tracker), [GOOD_ORIGIN]),
        tracker=tracker,
    )
    app = URLRouter([path("ws/chat/<str:room>/", guarded), re_path(r"", unrouted(tracker=tracker))])
    await connect(app, "/ws/chat/r1/", "https://evil.test")
    assert rejected(registry, type="call", reason="denied") == 1
    assert all_rejected(registry) == 1


@pytest.mark.parametrize(("code", "reason"), [*REFUSAL_CODES.items(), (4000, "denied")])
async def test_middleware_names_its_refusal_by_close_code(registry, tracker, code, reason) -> None:
    def refusing(inner):
        async def app(scope, receive, send):
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.close", "code": code})

        app.inner = inner
        return app

    communicator = await connect(stack(tracker, middleware=refusing), "/ws/chat/r1/")
    assert rejected(registry, type="call", reason=reason) == 1
    assert all_rejected(registry) == 1
    await communicator.wait()


async def test_a_client_leaving_before_middleware_decides_is_client_gone(registry, tracker) -> None:
    def slow(inner):
        async def app(scope, receive, send):
            assert (await receive())["type"] == "websocket.connect"
            assert (await receive())["type"] == "websocket.disconnect"

        app.inner = inner
        return app

    app = stack(tracker, middleware=slow)
    scope = {
        "type": "websocket",
        "path": "/ws/chat/r1/",
        "headers": [(b"origin", b"https://clinic.test")],
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "websocket.connect"})
    await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    await communicator.wait()
    assert rejected(registry, type="call", reason="client_gone") == 1
    assert all_rejected(registry) == 1
    # Nobody answered the handshake: there is no handshake duration to observe.
    assert value(registry, "vidai_websocket_handshake_duration_seconds_count", type="call") == 0


HANDSHAKES = "vidai_websocket_handshake_duration_seconds_count"
HANDSHAKE_SECONDS = "vidai_websocket_handshake_duration_seconds_sum"
MIDDLEWARE_SECONDS = 0.05


def slow_middleware(app):
    """Middleware taking MIDDLEWARE_SECONDS before the routes, as a session lookup would."""

    async def middleware(scope, receive, send):
        await asyncio.sleep(MIDDLEWARE_SECONDS)
        return await app(scope, receive, send)

    middleware.inner = app
    return middleware


@pytest.mark.parametrize(
    ("socket_path", "socket_type"),
    [("/ws/chat/r1/", "call"), ("/ws/admin/", "stt_admin"), ("/ws/elsewhere/", "unknown")],
)
async def test_a_handshake_is_timed_once_from_the_outermost_layer(
    registry, tracker, socket_path: str, socket_type: str
) -> None:
    """Accepted, refused by its route or by the catch-all: the middleware's time is inside."""
    communicator = await connect(stack(tracker, middleware=slow_middleware), socket_path)
    assert value(registry, HANDSHAKES, type=socket_type) == 1
    assert value(registry, HANDSHAKE_SECONDS, type=socket_type) >= MIDDLEWARE_SECONDS
    others = {t for t in (*tracker.types(), "unknown") if t != socket_type}
    assert not any(value(registry, HANDSHAKES, type=t) for t in others)
    await communicator.disconnect()


async def test_a_handshake_refused_before_the_routes_is_timed(registry, tracker) -> None:
    await connect(stack(tracker, middleware=slow_middleware), "/ws/chat/r1/", "https://evil.test")
    assert value(registry, HANDSHAKES, type="call") == 1


async def test_a_tracked_route_under_it_shares_its_one_connection(tracker) -> None:
    """Both wrappers keep one object per socket, the server's callables beneath it.

    The route's app gets the outer wrapper's ``receive`` and ``send`` (the
    connection itself), the tracked route adds no coroutine of its own, and
    the scope is as the server made it once the socket has ended.
    """
    seen_by_route = {}

    async def route_app(scope, receive, send) -> None:
        seen_by_route.update(receive=receive, send=send)
        await send({"type": "websocket.accept"})
        await receive()

    async def server_receive():
        return {"type": "websocket.disconnect", "code": 1000}

    async def server_send(message) -> None:
        pass

    route = track("call", route_app, tracker=tracker)
    app = track_rejections(URLRouter([path("ws/chat/", route)]), tracker=tracker)
    scope = {"type": "websocket", "path": "/ws/chat/", "headers": []}
    await app(scope, server_receive, server_send)
    connection = seen_by_route["send"]
    assert isinstance(connection, Connection)
    assert seen_by_route["receive"].__self__ is connection
    assert connection._receive is server_receive
    assert connection._send is server_send
    assert CONNECTION_KEY not in scope
    assert value(tracker.registry, OPENED, type="call") == 1
    assert value(tracker.registry, CLOSED, type="call", reason="normal", initiator="client") == 1
    assert all_rejected(tracker.registry) == 0

    # Under a watching connection the route hands up the app's own coroutine.
    watched = dict(
        scope, **{CONNECTION_KEY: Connection(scope, 0.0, server_receive, server_send, watcher=app)}
    )
    awaitable = route(watched, server_receive, server_send)
    assert awaitable.cr_code is route_app.__code__
    awaitable.close()


async def _one_session_and_one_refusal(tracker) -> None:
    communicator = await connect(stack(tracker), "/ws/chat/r1/")
    await communicator.send_to(text_data="hi")
    await communicator.receive_from()
    await communicator.disconnect()
    await communicator.wait()
    refused = await connect(stack(tracker), "/ws/admin/")
    await refused.wait()


async def test_an_ended_connection_leaves_no_reference_cycle(registry, tracker) -> None:
    """Freed when the socket ends, not at the next full garbage collection.

    The connection sits in the server's scope while the socket lives, and the
    scope in it: the wrappers undo both at the end.
    """
    gc.collect()
    gc.disable()
    try:
        await _one_session_and_one_refusal(tracker)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [found for found in gc.garbage if isinstance(found, Connection)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
    assert_balanced(registry, "call", 0)
    assert rejected(registry, type="stt_admin", reason="denied") == 1  # close() before accept


def test_the_middlewares_old_name_still_works_with_a_deprecation_warning() -> None:
    import metrics

    with pytest.warns(DeprecationWarning, match="metrics.TrackRejectionsMiddleware"):
        old = metrics.RejectionTracker  # type: ignore[attr-defined]
    assert old is metrics.TrackRejectionsMiddleware
    assert "RejectionTracker" not in metrics.__all__
