"""metrics.testing: what an adopting project's own tests use, used as they would."""

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from metrics import default_tracker, track, track_rejections
from metrics.contract import CLOSED, CONNECTIONS, OPENED, REJECTED
from metrics.testing import isolated_tracker, sample

from .consumers import Echo
from .routing import websocket_urlpatterns

# The product tests' routes, built as an adopter's are: no tracker passed.
application = track_rejections(URLRouter(websocket_urlpatterns))


async def session(path: str) -> bool:
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


async def test_sockets_count_into_the_isolated_tracker_and_only_there() -> None:
    outside = default_tracker()
    before = sample(outside, OPENED + "_total", type="call")
    with isolated_tracker() as tracker:
        assert default_tracker() is tracker
        # Every declared type is there from the start, at zero.
        assert sample(tracker, CONNECTIONS, type="stt_sales") == 0
        communicator = WebsocketCommunicator(application, "/ws/call/room-1/")
        assert (await communicator.connect())[0]
        assert sample(tracker, CONNECTIONS, type="call") == 1
        await communicator.disconnect()
        assert sample(tracker, CONNECTIONS, type="call") == 0
        assert not await session("/ws/stt/admin/")  # Deny refuses the handshake
        assert not await session("/ws/nowhere/")
    assert sample(tracker, OPENED + "_total", type="call") == 1
    closed = {"type": "call", "reason": "normal", "initiator": "client"}
    assert sample(tracker, CLOSED + "_total", **closed) == 1
    assert sample(tracker, REJECTED + "_total", type="stt_admin", reason="denied") == 1
    assert sample(tracker, REJECTED + "_total", type="unknown", reason="no_route") == 1
    # The default came back, and counted none of it.
    assert default_tracker() is outside
    assert sample(outside, OPENED + "_total", type="call") == before


async def test_the_default_comes_back_when_the_test_fails() -> None:
    outside = default_tracker()
    with pytest.raises(AssertionError), isolated_tracker():
        raise AssertionError("a failing test")
    assert default_tracker() is outside


def test_a_series_never_touched_is_zero_and_a_misspelt_name_raises() -> None:
    with isolated_tracker() as tracker:
        pass
    assert sample(tracker, CLOSED + "_total", type="call", reason="normal", initiator="server") == 0
    assert sample(tracker, "vidai_websocket_connection_duration_seconds_count", type="call") == 0
    with pytest.raises(KeyError, match="vidai_websocket_connections_opened"):
        sample(tracker, OPENED, type="call")  # a counter's sample ends in _total


def test_a_type_declared_inside_the_block_reaches_the_default_after() -> None:
    outside = default_tracker()
    with isolated_tracker() as tracker:
        track("testing_late", Echo.as_asgi())  # declares the type, as a route module would
        assert sample(tracker, CONNECTIONS, type="testing_late") == 0
    assert "testing_late" in outside.types()
    assert sample(outside, CONNECTIONS, type="testing_late") == 0


def test_multiprocess_mode_is_refused_with_a_reason(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"), isolated_tracker():
        pass
