"""The status document the frontend polls, built from the exposed samples."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from metrics.exposition import exposed_registry, multiprocess_dir
from metrics.fleet import FleetSummary, default_fleet
from metrics.routing import tracked_endpoints
from metrics.status import SocketSummary, summarize

from .routing import websocket_urlpatterns


def ws_endpoints() -> dict[str, str]:
    """Path template of every tracked endpoint, from the routing table."""
    return tracked_endpoints(websocket_urlpatterns)


def build_status(summary: SocketSummary, *, active: bool, source: str) -> dict[str, Any]:
    """Return the status document: the seed's keys plus the additions in the README."""
    now = time.time()
    active = _active(summary, active)
    endpoints = ws_endpoints()
    types = list(dict.fromkeys([*endpoints, *summary.counts]))
    counts = {socket_type: summary.counts.get(socket_type, 0) for socket_type in types}
    ages = summary.oldest_age(now)
    return {
        "active": active,
        "total_sockets": sum(counts.values()),
        "sockets_by_type": counts,
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        "ws_endpoints": endpoints,
        "oldest_connection_age_seconds": {t: ages.get(t) for t in types},
        "source": source,
    }


def host_summary() -> tuple[SocketSummary, str]:
    """Summarise the registry /metrics exposes here, and name where it came from."""
    return summarize(exposed_registry()), "multiprocess" if multiprocess_dir() else "process"


def status_summary() -> tuple[SocketSummary, str]:
    """Return the numbers the status document shows, and their source.

    With ``VIDAI_STATUS_SOURCE=prometheus``: the whole fleet's, from a recent
    Prometheus answer (source ``prometheus``); otherwise, or while Prometheus
    does not answer, this host's. Never waits for Prometheus.
    """
    fleet = default_fleet()
    reading = fleet.reading() if fleet is not None else None
    if reading is not None:
        return reading.summary, "prometheus"
    return host_summary()


def _active(summary: SocketSummary, active: bool) -> bool:
    # Fleet view: this instance answers, and Prometheus sees at least one instance up.
    if isinstance(summary, FleetSummary):
        return active and summary.instances_up > 0
    return active


def status_etag(summary: SocketSummary, *, active: bool, source: str) -> str:
    """Weak validator of the state behind a document (counts and start times, not ages).

    Ages and the timestamp move every second; a client that gets 304 keeps
    its document and ages it by the time since its ``timestamp``.
    """
    state = json.dumps(
        [
            _active(summary, active),
            source,
            sorted(summary.counts.items()),
            sorted(summary.oldest_start.items()),
        ],
        separators=(",", ":"),
    )
    return 'W/"' + hashlib.sha256(state.encode()).hexdigest()[:32] + '"'
