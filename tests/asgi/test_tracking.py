"""The ASGI wrapper, driven by channels.testing against inline consumers."""

import asyncio
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import ApplicationCommunicator, WebsocketCommunicator
from django.urls import path
from prometheus_client import CollectorRegistry

from metrics import REFUSAL_CODES, REJECT_REASONS, track, unrouted
from metrics.core.tracker import SocketTracker

from ..consumers import Deny, Echo, RaiseAfterAccept, RaiseBeforeAccept

CLOSED = "vidai_websocket_connections_closed_total"


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def assert_balanced(registry: CollectorRegistry, socket_type: str, expected_open: int) -> None:
    opened = value(registry, "vidai_websocket_connections_opened_total", type=socket_type)
    closed = sum(
        sample.value
        for family in registry.collect()
        if family.name == "vidai_websocket_connections_closed"
        for sample in family.samples
        if sample.name == CLOSED and sample.labels["type"] == socket_type
    )
    gauge = value(registry, "vidai_websocket_connections", type=socket_type)
    assert gauge == expected_open
    assert gauge >= 0
    assert opened - closed == gauge


async def test_client_close_counts_open_then_closed_once(registry, tracker) -> None:
    communicator = WebsocketCommunicator(track("call", Echo.as_asgi(), tracker=tracker), "/ws/")
    connected, _ = await communicator.connect()
    assert connected
    assert_balanced(registry, "call", 1)
    await communicator.disconnect(code=1000)
    assert_balanced(registry, "call", 0)
    assert value(registry, CLOSED, type="call", reason="normal", initiator="client") == 1
    assert value(registry, "vidai_websocket_connection_duration_seconds_count", type="call") == 1
    # Alone, track() is the outermost layer: it times the handshake itself, once.
    assert value(registry, "vidai_websocket_handshake_duration_seconds_count", type="call") == 1


async def test_denied_handshake_is_rejected_not_opened(registry, tracker) -> None:
    communicator = WebsocketCommunicator(track("stt_admin", Deny.as_asgi(), tracker=tracker), "/")
    connected, _ = await communicator.connect()
    assert not connected
    assert_balanced(registry, "stt_admin", 0)
    assert value(registry, "vidai_websocket_connections_opened_total", type="stt_admin") == 0
    assert (
        value(registry, "vidai_websocket_handshake_duration_seconds_count", type="stt_admin") == 1
    )
    assert (
        value(registry, "vidai_websocket_connections_rejected_total", type="stt_admin",
              reason="denied") == 1
    )  # fmt: skip


async def test_server_close_is_counted_with_its_code(registry, tracker) -> None:
    communicator = WebsocketCommunicator(track("stt", Echo.as_asgi(), tracker=tracker), "/")
    await communicator.connect()
    await communicator.send_to(text_data="close-please")
    closing = await communicator.receive_output()
    assert closing == {"type": "websocket.close", "code": 4001}
    assert_balanced(registry, "stt", 0)
    assert value(registry, CLOSED, type="stt", reason="application", initiator="server") == 1
    # The close handshake completing afterwards must not count a second close.
    await communicator.disconnect(code=4001)
    assert_balanced(registry, "stt", 0)
    assert value(registry, "vidai_websocket_connections_opened_total", type="stt") == 1


async def test_exception_before_accept_is_a_rejection(registry, tracker) -> None:
    app = track("call", RaiseBeforeAccept.as_asgi(), tracker=tracker)
    communicator = WebsocketCommunicator(app, "/")
    with pytest.raises(RuntimeError, match="connect failed"):
        await communicator.connect()
    assert_balanced(registry, "call", 0)
    assert value(registry, "vidai_websocket_connections_rejected_total", type="call",
                 reason="error") == 1  # fmt: skip


async def test_exception_after_accept_closes_as_internal_error(registry, tracker) -> None:
    communicator = WebsocketCommunicator(
        track("call", RaiseAfterAccept.as_asgi(), tracker=tracker), "/"
    )
    connected, _ = await communicator.connect()
    assert connected
    with pytest.raises(RuntimeError, match="after accept"):
        await communicator.receive_output()
    assert_balanced(registry, "call", 0)
    assert value(registry, CLOSED, type="call", reason="internal_error", initiator="server") == 1


async def test_exception_in_receive_closes_as_internal_error(registry, tracker) -> None:
    communicator = WebsocketCommunicator(track("stt", Echo.as_asgi(), tracker=tracker), "/")
    await communicator.connect()
    await communicator.send_to(text_data="raise-please")
    with pytest.raises(RuntimeError, match="receive failed"):
        await communicator.receive_output()
    assert_balanced(registry, "stt", 0)
    assert value(registry, CLOSED, type="stt", reason="internal_error", initiator="server") == 1


async def test_cancellation_closes_once(registry, tracker) -> None:
    communicator = WebsocketCommunicator(track("call", Echo.as_asgi(), tracker=tracker), "/")
    await communicator.connect()
    assert_balanced(registry, "call", 1)
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    assert_balanced(registry, "call", 0)
    assert value(registry, CLOSED, type="call", reason="going_away", initiator="server") == 1


async def test_frames_and_utf8_bytes_are_counted_both_ways(registry, tracker) -> None:
    communicator = WebsocketCommunicator(track("stt", Echo.as_asgi(), tracker=tracker), "/")
    await communicator.connect()
    await communicator.send_to(text_data="héllo")  # 6 bytes in UTF-8
    assert await communicator.receive_from() == "héllo"
    await communicator.send_to(bytes_data=b"\x00" * 1000)
    assert await communicator.receive_from() == b"\x00" * 1000
    await communicator.disconnect()
    for direction in ("received", "sent"):
        labels = {"type": "stt", "direction": direction}
        assert value(registry, "vidai_websocket_messages_total", **labels) == 2
        assert value(registry, "vidai_websocket_message_bytes_total", **labels) == 1006


async def test_client_leaving_before_the_app_decides_is_a_rejection(registry, tracker) -> None:
    async def slow_to_decide(scope, receive, send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        assert (await receive())["type"] == "websocket.disconnect"

    communicator = ApplicationCommunicator(
        track("call", slow_to_decide, tracker=tracker), {"type": "websocket", "path": "/"}
    )
    await communicator.send_input({"type": "websocket.connect"})
    await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    await communicator.wait()
    assert_balanced(registry, "call", 0)
    assert value(registry, "vidai_websocket_connections_rejected_total", type="call",
                 reason="client_gone") == 1  # fmt: skip
    assert value(registry, "vidai_websocket_connections_rejected_total", type="call",
                 reason="error") == 0  # fmt: skip


async def test_app_returning_without_close_counts_a_normal_server_close(registry, tracker):
    async def accept_and_leave(scope, receive, send) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    communicator = ApplicationCommunicator(
        track("stt", accept_and_leave, tracker=tracker), {"type": "websocket", "path": "/"}
    )
    await communicator.send_input({"type": "websocket.connect"})
    await communicator.wait()
    assert_balanced(registry, "stt", 0)
    assert value(registry, CLOSED, type="stt", reason="normal", initiator="server") == 1


class BrokenTracker(SocketTracker):
    def opened(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracking backend broke")

    def frame_counts(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracking backend broke")


async def test_tracking_errors_never_break_the_socket(registry, caplog) -> None:
    tracker = BrokenTracker(registry, types=("call",))
    communicator = WebsocketCommunicator(
        track("call", Echo.as_asgi(), tracker=tracker), "/ws/call/room-42/?name=Jane"
    )
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="still works")
    assert await communicator.receive_from() == "still works"
    await communicator.disconnect()
    assert value(registry, "vidai_websocket_tracking_errors_total", stage="open") == 1
    assert value(registry, "vidai_websocket_tracking_errors_total", stage="frame") == 1
    assert value(registry, "vidai_websocket_connections", type="call") == 0
    assert "tracking failed at stage open" in caplog.text
    assert "Jane" not in caplog.text
    assert "room-42" not in caplog.text


async def test_the_wrapper_keeps_no_per_connection_state(registry, tracker) -> None:
    wrapper = track("call", Echo.as_asgi(), tracker=tracker)
    before = dict(vars(wrapper))
    communicators = [WebsocketCommunicator(wrapper, "/") for _ in range(5)]
    for communicator in communicators:
        await communicator.connect()
    assert_balanced(registry, "call", 5)
    assert vars(wrapper) == before
    for communicator in communicators:
        await communicator.disconnect()
    assert_balanced(registry, "call", 0)


async def test_http_scopes_pass_through_uncounted(registry, tracker) -> None:
    seen = []

    async def http_app(scope, receive, send) -> None:
        seen.append(scope["type"])

    await track("call", http_app, tracker=tracker)({"type": "http"}, None, None)
    assert seen == ["http"]
    assert value(registry, "vidai_websocket_connections_rejected_total", type="call",
                 reason="denied") == 0  # fmt: skip


async def test_unrouted_sockets_are_denied_and_counted_as_unknown(registry, tracker) -> None:
    communicator = WebsocketCommunicator(unrouted(tracker=tracker), "/no/such/path/?name=Jane")
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 1008)
    assert value(registry, "vidai_websocket_connections_rejected_total", type="unknown",
                 reason="no_route") == 1  # fmt: skip


async def test_every_frame_is_in_the_next_scrape_while_the_socket_stays_open(
    registry, tracker
) -> None:
    # Sparse, long-lived traffic (signalling, chat): three frames each way, then quiet.
    communicator = WebsocketCommunicator(track("stt", Echo.as_asgi(), tracker=tracker), "/")
    await communicator.connect()
    for n in range(3):
        await communicator.send_to(text_data="héllo")  # 6 bytes in UTF-8
        assert await communicator.receive_from() == "héllo"
        for direction in ("received", "sent"):
            labels = {"type": "stt", "direction": direction}
            assert value(registry, "vidai_websocket_messages_total", **labels) == n + 1
            assert value(registry, "vidai_websocket_message_bytes_total", **labels) == 6 * (n + 1)
    await communicator.disconnect()
    assert value(registry, "vidai_websocket_messages_total", type="stt", direction="sent") == 3


async def test_the_wrapper_returns_what_the_app_returns(registry, tracker) -> None:
    # Servers report an app that returns a value (uvicorn logs it and closes
    # the connection): the wrapper must not hide it, whatever the scope.
    async def returns_a_value(scope, receive, send) -> object:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
        return "not None"

    wrapped = track("stt", returns_a_value, tracker=tracker)
    assert await wrapped({"type": "http"}, None, None) == "not None"
    communicator = ApplicationCommunicator(wrapped, {"type": "websocket", "path": "/"})
    await communicator.send_input({"type": "websocket.connect"})
    assert await communicator.receive_output() == {"type": "websocket.accept"}
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 1000}
    assert await communicator.future == "not None"
    assert value(registry, "vidai_websocket_connections_opened_total", type="stt") == 1
    assert value(registry, CLOSED, type="stt", reason="normal", initiator="server") == 1
    assert_balanced(registry, "stt", 0)


async def test_a_wrapped_router_nested_in_another_still_routes(registry, tracker) -> None:
    inner = URLRouter([path("echo/", Echo.as_asgi())])
    assert track("call", inner, tracker=tracker)._path_routing is True
    assert track("call", Echo.as_asgi(), tracker=tracker)._path_routing is False
    outer = URLRouter([path("ws/", track("call", inner, tracker=tracker))])
    communicator = WebsocketCommunicator(outer, "/ws/echo/")
    connected, _ = await communicator.connect()
    assert connected
    assert_balanced(registry, "call", 1)
    await communicator.send_to(text_data="routed")
    assert await communicator.receive_from() == "routed"
    await communicator.disconnect()
    assert_balanced(registry, "call", 0)
    assert value(registry, "vidai_websocket_connections_opened_total", type="call") == 1
    assert value(registry, CLOSED, type="call", reason="normal", initiator="client") == 1


@pytest.mark.parametrize(("code", "reason"), [*REFUSAL_CODES.items(), (None, "denied")])
async def test_a_refusal_close_code_names_the_reason(registry, tracker, code, reason) -> None:
    async def refuse(scope, receive, send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        close = (
            {"type": "websocket.close"}
            if code is None
            else {"type": "websocket.close", "code": code}
        )
        await send(close)

    communicator = WebsocketCommunicator(track("call", refuse, tracker=tracker), "/")
    connected, _ = await communicator.connect()
    assert not connected
    assert_balanced(registry, "call", 0)
    assert value(registry, "vidai_websocket_connections_rejected_total", type="call",
                 reason=reason) == 1  # fmt: skip
    total = sum(
        value(registry, "vidai_websocket_connections_rejected_total", type="call", reason=r)
        for r in REJECT_REASONS
        if r != "no_route"
    )
    assert total == 1


async def frames_outside_the_open_socket(scope, receive, send) -> None:
    """Send a frame before accept, close, then read and answer a late frame."""
    await receive()  # websocket.connect
    await send({"type": "websocket.send", "text": "early"})
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})
    await receive()  # a frame that was on its way when the app closed
    await send({"type": "websocket.send", "text": "late"})


async def test_frames_before_accept_or_after_close_are_not_counted(registry, tracker) -> None:
    app = track("call", frames_outside_the_open_socket, tracker=tracker)
    communicator = ApplicationCommunicator(app, {"type": "websocket", "path": "/ws/"})
    await communicator.send_input({"type": "websocket.connect"})
    sent = [await communicator.receive_output() for _ in range(3)]
    assert [message["type"] for message in sent] == [
        "websocket.send", "websocket.accept", "websocket.close",
    ]  # fmt: skip
    await communicator.send_input({"type": "websocket.receive", "text": "late"})
    assert (await communicator.receive_output())["text"] == "late"
    await communicator.wait()
    assert_balanced(registry, "call", 0)
    assert value(registry, CLOSED, type="call", reason="normal", initiator="server") == 1
    for direction in ("received", "sent"):
        for name in ("vidai_websocket_messages_total", "vidai_websocket_message_bytes_total"):
            assert value(registry, name, type="call", direction=direction) == 0


def test_servers_and_asgiref_see_an_asgi3_app(tracker) -> None:
    """track()'s ``__call__`` is a plain function (it may hand up the app's coroutine)."""
    import uvicorn
    from asgiref.compatibility import guarantee_single_callable

    app = track("call", Echo.as_asgi(), tracker=tracker)
    assert asyncio.iscoroutinefunction(app.__call__)
    assert guarantee_single_callable(app) is app
    config = uvicorn.Config(app, lifespan="off")
    config.load()
    assert config.interface == "asgi3"
