"""WebSocket status exporter for Django Channels.

Wrap each WebSocket route with ``track("type", app)``, add ``unrouted()`` last,
and include ``metrics.urls`` for ``/metrics``. See the README.
"""

from .close_codes import CLOSE_REASONS, REJECT_REASONS, close_reason
from .tracker import SocketTracker, default_tracker
from .tracking import TrackedSocket, UnroutedSocket, track, unrouted

__all__ = [
    "CLOSE_REASONS",
    "REJECT_REASONS",
    "SocketTracker",
    "TrackedSocket",
    "UnroutedSocket",
    "close_reason",
    "default_tracker",
    "track",
    "unrouted",
]
