"""``track_rejections(app)``: handshakes refused before any tracked route saw them.

Wrap a project's whole WebSocket stack, the middleware included::

    "websocket": track_rejections(
        AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routes)))
    )

A handshake that middleware refuses (a bad Origin, failed authentication) or
that fails before any route is counted as ``rejected``: with the type of the
tracked route its path matches, else ``unknown``; reason ``no_route`` when no
route but the catch-all matches the path; else the reason the refusal's close
code names (``REFUSAL_CODES``: ``unauthenticated``, ``forbidden``, ...) or
``denied``, ``error`` when the app raised, ``client_gone`` when the client left
first (or the app was cancelled before deciding). The path is matched as the routes below
see it (``root_path`` cut, or relative to an outer router's match). A socket
that reaches a tracked route (or ``unrouted()``) is counted there, never here;
one an untracked route refuses counts as ``unknown`` (and system check W002
names that route).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

from asgiref.sync import markcoroutinefunction

from .. import label_values
from ..core.tracker import SocketTracker, tracker_or_default
from .routes import find_routes, inner_app, matching_route, project_routes
from .tracking import (
    CONNECTION_KEY,
    WATCHING,
    Connection,
    TrackedSocket,
    UnroutedSocket,
    outer_connection,
    routes_paths,
    run_counted,
)
from .types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

__all__ = ["TrackRejectionsMiddleware", "track_rejections"]


def _full_path(scope: Scope) -> str:
    """The request's path below the ``root_path``, as the outermost URLRouter sees it."""
    path = str(scope.get("path", ""))
    root_path = str(scope.get("root_path", ""))
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


def _routed_path(scope: Scope) -> str:
    """The path the routes below see, as Channels' URLRouter computes it."""
    remaining = scope.get("path_remaining")
    # Nested under a router: relative to its match.
    return remaining if isinstance(remaining, str) else _full_path(scope)


class TrackRejectionsMiddleware:
    """ASGI wrapper counting refused handshakes that no tracked route counted (see module)."""

    def __init__(self, app: ASGIApp, *, tracker: SocketTracker | None = None) -> None:
        self.app = app
        self._tracker = tracker

    @property
    def _path_routing(self) -> bool:
        return routes_paths(self.app)  # transparent to a router above it, as track() is

    # Not a coroutine function, as track(): the socket carries one coroutine
    # of the wrappers, run_counted's (marked, so servers see an ASGI 3 app).
    @markcoroutinefunction
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[object]:
        if scope["type"] != "websocket":
            return self.app(scope, receive, send)
        outer = outer_connection(scope)
        if outer is None:
            started = time.perf_counter()
        else:  # under another track_rejections: counted from here, timed from there
            started = outer.started
            if outer.stage is WATCHING:
                outer.settle()
        connection = Connection(scope, started, receive, send, watcher=self)
        # In place, as the routes below must find it in the scope they get
        # (Channels' routers and middleware copy the scope, keys included).
        scope[CONNECTION_KEY] = connection
        return run_counted(self.app, scope, connection, outer=outer)

    def _type_and_reason(self, scope: Scope, reason: str) -> tuple[str, str]:
        target = inner_app(self.app)
        if isinstance(target, TrackedSocket):  # around one tracked route
            return target.socket_type, reason
        below = find_routes(self.app)
        if below is not None:  # around a router: its routes see the routed path
            found = matching_route(below, _routed_path(scope))
        else:  # around something else: the project's routes, from the top
            found = matching_route(project_routes(), _full_path(scope))
        if found is None or isinstance(found[1], UnroutedSocket):
            return label_values.UNKNOWN_TYPE, label_values.NO_ROUTE
        if isinstance(found[1], TrackedSocket):
            return found[1].socket_type, reason
        return label_values.UNKNOWN_TYPE, reason

    def count_refusal(self, scope: Scope, reason: str, started: float) -> None:
        """Count a handshake refused before any tracked route took it."""
        tracker = tracker_or_default(self._tracker)
        try:
            socket_type, reason = self._type_and_reason(scope, reason)
            tracker.rejected(socket_type, reason)
            if reason != label_values.CLIENT_GONE:  # nobody answered: no handshake to time
                tracker.handshake_done(socket_type, time.perf_counter() - started)
        except Exception:  # tracking never breaks the handshake's answer
            # Neither the path nor the scope is logged: they carry personal data.
            logger.exception("socket tracking failed at stage reject before the routes")
            tracker.tracking_error("reject")


def track_rejections(
    app: ASGIApp, *, tracker: SocketTracker | None = None
) -> TrackRejectionsMiddleware:
    """Wrap a whole WebSocket stack so that handshakes refused before the routes are counted."""
    return TrackRejectionsMiddleware(app, tracker=tracker)
