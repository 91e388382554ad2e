"""The seed-compatible SocketStatusService facade."""

import threading

import pytest
from prometheus_client import CollectorRegistry

from metrics import SocketStatusService
from metrics.core.tracker import SocketTracker

from ..routing import TYPES


@pytest.fixture
def service(tracker: SocketTracker, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(SocketStatusService, "tracker", tracker)
    return SocketStatusService


def test_register_and_unregister_round_trip(service, registry: CollectorRegistry) -> None:
    service.register_socket("a", "call", user_id=7)
    service.register_socket("b", "stt")
    assert [s["socket_id"] for s in service.get_all_sockets()] == ["a", "b"]
    assert service.get_sockets_by_type("call")[0]["user_id"] == "7"
    assert registry.get_sample_value("vidai_websocket_connections", {"type": "call"}) == 1
    with pytest.raises(ValueError, match="already registered"):
        service.register_socket("a", "call")
    assert service.unregister_socket("a") is True
    assert service.unregister_socket("a") is False
    assert registry.get_sample_value("vidai_websocket_connections", {"type": "call"}) == 0
    closed = registry.get_sample_value(
        "vidai_websocket_connections_closed_total",
        {"type": "call", "reason": "normal", "initiator": "server"},
    )
    assert closed == 1


def test_summary_has_counts_and_ages_only(service) -> None:
    summary = service.get_socket_info_summary()
    assert set(summary) == {"total_sockets", "sockets_by_type", "oldest_connection_age_seconds"}
    assert summary["total_sockets"] == sum(summary["sockets_by_type"].values())


def test_concurrent_registrations_stay_exact(service, registry: CollectorRegistry) -> None:
    per_thread = 500

    def churn(thread: int) -> None:
        for i in range(per_thread):
            socket_id = f"{thread}-{i}"
            service.register_socket(socket_id, TYPES[i % len(TYPES)])
            if i % 2:
                assert service.unregister_socket(socket_id)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    still_open = sum(
        registry.get_sample_value("vidai_websocket_connections", {"type": t}) or 0 for t in TYPES
    )
    assert still_open == 8 * per_thread / 2
    assert len(service.get_all_sockets()) == still_open
