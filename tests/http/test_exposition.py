"""The exposition, byte for byte, and promtool's opinion of it."""

import os
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from metrics.core.buckets import BucketCounts
from metrics.core.live import LiveSockets
from metrics.core.tracker import SocketTracker

from ..conftest import require_tool
from ..routing import TYPES

GOLDEN = Path(__file__).parent / "golden"
NOW = 1_800_000_000.0


def pinned_exposition(monkeypatch: pytest.MonkeyPatch) -> CollectorRegistry:
    """A registry with a known history, its clocks pinned to NOW."""
    monkeypatch.setattr("time.time", lambda: NOW)
    monkeypatch.setattr("metrics.core.servers.server_name", lambda: "uvicorn")
    clock_ns = [int(NOW * 1e9)]
    live = LiveSockets(clock_ns=lambda: clock_ns[0], monotonic_ns=lambda: clock_ns[0])
    registry = CollectorRegistry()
    tracker = SocketTracker(registry, types=TYPES, live=live)
    calls = [tracker.opened("call") for _ in range(3)]
    tracker.opened("stt_room", user_id="1")
    clock_ns[0] += 90 * 1_000_000_000
    tracker.opened("stt")
    tracker.closed(calls[0], code=1000, initiator="client")
    tracker.closed(calls[1], code=1006, initiator="client")
    tracker.rejected("stt_admin", "denied")
    tracker.rejected("unknown", "no_route")
    tracker.handshake_done("call", 0.004)
    tracker.handshake_done("unknown", 0.0005)
    counts = tracker.frame_counts("call")
    counts.received, counts.received_bytes, counts.sent, counts.sent_bytes = 1, 120, 1, 80
    clock_ns[0] += 30 * 1_000_000_000
    return registry


@pytest.mark.parametrize(
    ("filename", "render"),
    [("exposition.txt", generate_latest), ("exposition.openmetrics.txt", generate_openmetrics)],
)
def test_exposition_matches_the_golden_file(monkeypatch, filename, render) -> None:
    output = render(pinned_exposition(monkeypatch))
    golden = GOLDEN / filename
    if os.environ.get("VIDAI_UPDATE_GOLDEN") == "1":
        golden.write_bytes(output)
    assert output == golden.read_bytes(), "run with VIDAI_UPDATE_GOLDEN=1 to regenerate"


def promtool_check(text: bytes) -> subprocess.CompletedProcess[bytes]:
    promtool = require_tool("promtool")
    return subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
    )


def test_promtool_accepts_the_exposition(monkeypatch) -> None:
    result = promtool_check(generate_latest(pinned_exposition(monkeypatch)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_flags_a_broken_exposition() -> None:
    """The check above could fail: promtool does reject a malformed exposition."""
    broken = b"# TYPE vidai_websocket_connections gauge\nvidai_websocket_connections{type=call} x\n"
    assert promtool_check(broken).returncode != 0


def test_plain_histograms_label_their_buckets_as_prometheus_client_does() -> None:
    """One process (BucketCounts) and multiprocess files (Histogram) write the same le."""
    bounds = (0.0025, 1.0, 14_400.0, 2_592_000.0)
    registry = CollectorRegistry()
    Histogram("h", "h", buckets=bounds, registry=registry).observe(1)
    (family,) = registry.collect()
    written = [s.labels["le"] for s in family.samples if s.name == "h_bucket"]
    assert list(BucketCounts(bounds).labels) == written


async def test_the_mode_is_decided_in_one_place_from_the_environment(monkeypatch, tmp_path) -> None:
    import threading

    from metrics.http.exposition import exposition

    loop_thread = threading.get_ident()
    one = exposition()
    assert one.source == "process"
    assert await one.read(threading.get_ident) == loop_thread  # on the event loop
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    workers = exposition()
    assert workers.source == "multiprocess"
    assert await workers.read(threading.get_ident) != loop_thread  # files: off the loop
