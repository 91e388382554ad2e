"""WebSocket status exporter for Django Channels.

Wrap each WebSocket route with ``track("type", app)``, add ``unrouted()`` last,
wrap the whole WebSocket stack with ``track_rejections()``, and include
``metrics.urls`` for ``/metrics``. See the README.

The names that pull in Django views or channel layers (``SocketStatusService``,
``StatusFastPath``) are imported on first use, so importing the package stays
cheap (a gunicorn master imports it for its hooks).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from .asgi.tracking import TrackedSocket, UnroutedSocket, track, unrouted
from .core.tracker import SocketTracker, default_tracker
from .label_values import CLOSE_REASONS, REFUSAL_CODES, REJECT_REASONS, close_reason, refusal_reason

if TYPE_CHECKING:
    from .asgi.rejections import TrackRejectionsMiddleware, track_rejections
    from .http.fastpath import StatusFastPath
    from .http.listener import start_metrics_listener, with_metrics_listener
    from .http.services import SocketStatusService

__all__ = [
    "CLOSE_REASONS",
    "REFUSAL_CODES",
    "REJECT_REASONS",
    "SocketStatusService",
    "SocketTracker",
    "StatusFastPath",
    "TrackRejectionsMiddleware",
    "TrackedSocket",
    "UnroutedSocket",
    "close_reason",
    "default_tracker",
    "refusal_reason",
    "start_metrics_listener",
    "track",
    "track_rejections",
    "unrouted",
    "with_metrics_listener",
]

_LAZY = {
    "TrackRejectionsMiddleware": "asgi.rejections",
    "SocketStatusService": "http.services",
    "StatusFastPath": "http.fastpath",
    "start_metrics_listener": "http.listener",
    "with_metrics_listener": "http.listener",
    "track_rejections": "asgi.rejections",
}


# Names that moved: old name -> new name, each still served with a DeprecationWarning.
_RENAMED = {"RejectionTracker": "TrackRejectionsMiddleware"}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"metrics.{name} is now metrics.{new}", DeprecationWarning, stacklevel=2)
        return __getattr__(new)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
