import itertools

import pytest
from django.test import override_settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics import label_values
from metrics.core.instruments import HANDSHAKE, HANDSHAKE_BUCKETS
from metrics.core.tracker import SocketTracker, declare_type
from metrics.multiprocess import merged_registry

from ..routing import TYPES


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_every_known_type_starts_at_zero(registry: CollectorRegistry, tracker: SocketTracker):
    for socket_type in TYPES:
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
    counts = tracker.frame_counts("stt")  # what the wrapper adds to, frame by frame
    counts.received, counts.received_bytes, counts.sent, counts.sent_bytes = 2, 120, 1, 3
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


@override_settings(
    VIDAI_METRICS={
        "CONNECTION_LIMIT": 5000,
        "CONNECTION_LIMIT_BY_TYPE": dict.fromkeys(TYPES, 1),
    }
)
def test_worst_case_series_stay_bounded(registry: CollectorRegistry, tracker: SocketTracker):
    """Every label combination the contract allows, at once: well under 400 series."""
    for socket_type, reason_code, initiator in itertools.product(
        TYPES, (1000, 1001, 1002, 1008, 1011, 1012, 1006, 4000, 2000), label_values.INITIATORS
    ):
        tracker.closed(tracker.opened(socket_type), code=reason_code, initiator=initiator)
    for socket_type, reason in itertools.product(TYPES, label_values.REJECT_REASONS):
        tracker.rejected(socket_type, reason)
    tracker.rejected("unknown", "no_route")
    for socket_type in (*TYPES, "unknown"):
        tracker.handshake_done(socket_type, 0.01)
    for socket_type in TYPES:
        counts = tracker.frame_counts(socket_type)
        counts.received = counts.received_bytes = counts.sent = counts.sent_bytes = 1
    for stage in ("open", "frame", "close", "reject"):
        tracker.tracking_error(stage)
    families = text_string_to_metric_families(generate_latest(registry).decode())
    series = [s for f in families for s in f.samples if not s.name.endswith("_created")]
    closed = [s for s in series if s.name == "vidai_websocket_connections_closed_total"]
    assert len(closed) == len(TYPES) * len(label_values.CLOSE_LABELS)
    handshakes = [s for s in series if s.name.startswith(HANDSHAKE)]
    # Only `type`: one bucket per bound, +Inf, _sum and _count, per type and for unknown.
    assert {label for s in handshakes for label in s.labels} <= {"type", "le"}
    assert len(handshakes) == (len(TYPES) + 1) * (len(HANDSHAKE_BUCKETS) + 3)
    assert len([s for s in series if s.name == LIMIT]) == len(TYPES) + 1
    assert len(series) < 400


LIMIT = "vidai_websocket_connections_limit"


def test_no_connection_limit_configured_exports_none(registry: CollectorRegistry, tracker):
    assert LIMIT not in generate_latest(registry).decode()


@override_settings(
    VIDAI_METRICS={"CONNECTION_LIMIT": 5000, "CONNECTION_LIMIT_BY_TYPE": {"call": 400}}
)
def test_the_connection_limit_is_exported_in_total_and_per_type(
    registry: CollectorRegistry, tracker: SocketTracker, tmp_path
):
    for exposed in (registry, merged_registry(str(tmp_path))):  # one process, and many
        assert exposed.get_sample_value(LIMIT) == 5000
        assert exposed.get_sample_value(LIMIT, {"type": "call"}) == 400
        assert exposed.get_sample_value(LIMIT, {"type": "stt"}) is None


def test_the_connection_limit_is_read_at_scrape_time(registry: CollectorRegistry, tracker):
    with override_settings(VIDAI_METRICS={"CONNECTION_LIMIT": 10}):
        assert registry.get_sample_value(LIMIT) == 10
    assert registry.get_sample_value(LIMIT) is None
