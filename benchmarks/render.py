"""``/metrics`` rendering with 100,000 open sockets versus none.

Scrape-time gauges come from the live registry's sorted start times, so the
exposition should cost the same whatever the number of open sockets. Both
renders use the same registry and tracker; the sockets are spread evenly
over Vidai's five types. Each state keeps its fastest of many short rounds.
"""

from __future__ import annotations

from prometheus_client import generate_latest

from . import SOCKET_TYPES, Result, fresh_tracker, time_per_call

TARGET = 1.2
ROUNDS = 25
RENDERS = 50
OPEN = 100_000


def run() -> list[Result]:
    """Measure one ``generate_latest`` with 0 and with 100,000 open sockets."""
    tracker = fresh_tracker()
    registry = tracker.registry

    def render() -> None:
        generate_latest(registry)

    time_per_call(render, RENDERS)  # warm-up
    empty = [time_per_call(render, RENDERS) for _ in range(ROUNDS)]
    empty_bytes = len(generate_latest(registry))

    for i in range(OPEN):
        tracker.opened(SOCKET_TYPES[i % len(SOCKET_TYPES)])
    total = sum(
        registry.get_sample_value("vidai_websocket_connections", {"type": t}) or 0.0
        for t in SOCKET_TYPES
    )
    if total != OPEN:
        raise RuntimeError(f"expected {OPEN} open sockets in the exposition, got {total}")

    loaded = [time_per_call(render, RENDERS) for _ in range(ROUNDS)]
    loaded_bytes = len(generate_latest(registry))
    best_empty, best_loaded = min(empty), min(loaded)
    return [
        Result(
            benchmark="3. /metrics render, 100k open / 0 open",
            measured=f"{best_loaded * 1e6:.0f} us/render, {loaded_bytes} bytes (100k open)",
            baseline=f"{best_empty * 1e6:.0f} us/render, {empty_bytes} bytes (0 open)",
            figure=best_loaded / best_empty,
            unit="x",
            target=TARGET,
        )
    ]
