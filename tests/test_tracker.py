import itertools

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics import label_values
from metrics.tracker import SocketTracker, declare_type

from .conftest import VIDAI_TYPES


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_every_known_type_starts_at_zero(registry: CollectorRegistry, tracker: SocketTracker):
    for socket_type in VIDAI_TYPES:
        assert sample(registry, "vidai_websocket_connections", type=socket_type) == 0
        assert sample(registry, "vidai_websocket_connections_opened_total", type=socket_type) == 0
        assert (
            sample(registry, "vidai_websocket_connections_rejected_total", type=socket_type,
                   reason="denied") == 0
        )  # fmt: skip
        assert (
            sample(registry, "vidai_websocket_messages_total", type=socket_type,
                   direction="received") == 0
        )  # fmt: skip
        assert sample(registry, "vidai_websocket_connection_duration_seconds_count",
                      type=socket_type) == 0  # fmt: skip
        assert (
            sample(registry, "vidai_websocket_oldest_connection_start_time_seconds",
                   type=socket_type) == float("inf")
        )  # fmt: skip
    assert sample(registry, "vidai_websocket_tracking_errors_total", stage="open") == 0


def test_open_then_close_counts_once(registry: CollectorRegistry, tracker: SocketTracker) -> None:
    key = tracker.opened("call", user_id="42")
    assert sample(registry, "vidai_websocket_connections", type="call") == 1
    assert tracker.closed(key, code=1006, initiator="client") is True
    assert tracker.closed(key, code=1000, initiator="server") is False
    assert sample(registry, "vidai_websocket_connections", type="call") == 0
    assert sample(registry, "vidai_websocket_connections_opened_total", type="call") == 1
    closed = "vidai_websocket_connections_closed_total"
    assert sample(registry, closed, type="call", reason="abnormal", initiator="client") == 1
    assert sample(registry, closed, type="call", reason="normal", initiator="server") == 0
    assert sample(registry, "vidai_websocket_connection_duration_seconds_count", type="call") == 1


def test_oldest_start_is_the_first_open_socket(registry: CollectorRegistry, tracker: SocketTracker):
    first = tracker.opened("stt")
    tracker.opened("stt")
    oldest = sample(registry, "vidai_websocket_oldest_connection_start_time_seconds", type="stt")
    assert oldest == tracker.sockets()[0].started_at
    tracker.closed(first, code=1000, initiator="client")
    newer = sample(registry, "vidai_websocket_oldest_connection_start_time_seconds", type="stt")
    assert oldest is not None
    assert newer is not None
    assert newer >= oldest


def test_frames_count_messages_and_bytes(registry: CollectorRegistry, tracker: SocketTracker):
    tracker.frames("stt", received=1, received_bytes=100, sent=0, sent_bytes=0)
    tracker.frames("stt", received=1, received_bytes=20, sent=1, sent_bytes=3)
    assert sample(registry, "vidai_websocket_messages_total", type="stt", direction="received") == 2
    assert (
        sample(registry, "vidai_websocket_message_bytes_total", type="stt", direction="received")
        == 120
    )
    assert (
        sample(registry, "vidai_websocket_message_bytes_total", type="stt", direction="sent") == 3
    )


def test_values_outside_the_contract_are_refused(tracker: SocketTracker) -> None:
    with pytest.raises(ValueError, match="reason"):
        tracker.rejected("call", "because")
    key = tracker.opened("call")
    with pytest.raises(ValueError, match="initiator"):
        tracker.closed(key, code=1000, initiator="nobody")
    assert tracker.live.count("call") == 1  # a refused close leaves the socket open


@pytest.mark.parametrize("name", ["", "Call", "call-room", "unknown", "x" * 33, "1call", "c all"])
def test_socket_type_names_are_code_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="socket type"):
        declare_type(name)


def test_worst_case_series_stay_bounded(registry: CollectorRegistry, tracker: SocketTracker):
    """Every label combination the contract allows, at once: well under 400 series."""
    for socket_type, reason_code, initiator in itertools.product(
        VIDAI_TYPES, (1000, 1001, 1002, 1008, 1011, 1012, 1006, 4000, 2000), label_values.INITIATORS
    ):
        tracker.closed(tracker.opened(socket_type), code=reason_code, initiator=initiator)
    for socket_type, reason in itertools.product(VIDAI_TYPES, label_values.REJECT_REASONS):
        tracker.rejected(socket_type, reason)
    tracker.rejected("unknown", "no_route")
    for socket_type in VIDAI_TYPES:
        tracker.frames(socket_type, received=1, received_bytes=1, sent=1, sent_bytes=1)
    for stage in ("open", "frame", "close", "reject"):
        tracker.tracking_error(stage)
    families = text_string_to_metric_families(generate_latest(registry).decode())
    series = [s for f in families for s in f.samples if not s.name.endswith("_created")]
    closed = [s for s in series if s.name == "vidai_websocket_connections_closed_total"]
    assert len(closed) == len(VIDAI_TYPES) * len(label_values.CLOSE_REASONS) * 2
    assert len(series) < 400
