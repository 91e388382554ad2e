"""The status document the frontend polls, built from the exposed samples.

The counts are read from what ``/metrics`` would expose at the same moment
(``exposition()``), or from Prometheus for the fleet view, never from a
second counter, so the two cannot disagree.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from ..conf import cached_per_settings
from .exposition import exposition
from .summary import SocketSummary

__all__ = [
    "build_status",
    "read_status",
    "status_etag",
    "ws_endpoints",
]


@cached_per_settings
def ws_endpoints() -> dict[str, str]:
    """Path template of every tracked endpoint, from the project's routes (computed once)."""
    from ..asgi.routes import project_routes, tracked_endpoints

    return tracked_endpoints(project_routes())


async def read_summary() -> tuple[SocketSummary, str]:
    """Return the numbers the status document shows, and their source.

    With ``STATUS_SOURCE = "prometheus"``: the whole fleet's, from a recent
    Prometheus answer (source ``prometheus``); otherwise, or while Prometheus
    does not answer, this host's: one process's at every request, several
    workers' merged at most once per ``WORKER_REFRESH_SECONDS``. Never waits
    for Prometheus.
    """
    from .fleet import default_fleet  # the fleet's summary is a SocketSummary

    fleet = default_fleet()
    reading = fleet.reading() if fleet is not None else None
    if reading is not None:
        return reading.summary, "prometheus"
    here = exposition()
    return await here.summary(), here.source


def build_status(summary: SocketSummary, *, active: bool, source: str) -> dict[str, Any]:
    """Return the status document: the seed's keys plus the additions in docs/status-json.md."""
    now = time.time()
    endpoints = ws_endpoints()
    types = list(dict.fromkeys([*endpoints, *summary.counts]))
    counts = {socket_type: summary.counts.get(socket_type, 0) for socket_type in types}
    ages = summary.oldest_age(now)
    return {
        "active": summary.active(active),
        "total_sockets": sum(counts.values()),
        "sockets_by_type": counts,
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
        "ws_endpoints": endpoints,
        "oldest_connection_age_seconds": {t: ages.get(t) for t in types},
        "source": source,
    }


def status_etag(summary: SocketSummary, *, active: bool, source: str) -> str:
    """Weak validator of the state behind a document (counts and start times, not ages).

    Ages and the timestamp move every second; a client that gets 304 keeps
    its document and ages it by the time since its ``timestamp``.
    """
    state = json.dumps(
        [
            summary.active(active),
            source,
            sorted(summary.counts.items()),
            sorted(summary.oldest_start.items()),
        ],
        separators=(",", ":"),
    )
    return 'W/"' + hashlib.sha256(state.encode()).hexdigest()[:32] + '"'


async def read_status() -> dict[str, Any]:
    """Return the status document as ``SocketStatusView`` serves it now."""
    from .channel_layer import channel_layer_answers

    summary, source = await read_summary()
    return build_status(summary, active=await channel_layer_answers(), source=source)
