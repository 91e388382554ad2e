"""A project's WebSocket routes: where they are, their types and path templates.

The routes are ``VIDAI_METRICS["WEBSOCKET_ROUTES"]`` (a dotted path), or, when
that is unset, the ``URLRouter`` found in ``ASGI_APPLICATION``'s WebSocket
stack through the middleware that wraps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from ..conf import cached_per_settings, get_settings
from .tracking import TrackedSocket, UnroutedSocket

__all__ = [
    "find_routes",
    "inner_app",
    "matching_route",
    "path_template",
    "project_routes",
    "tracked_endpoints",
    "untracked_routes",
]

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
# Where ASGI middleware keeps the app it wraps: Channels' BaseMiddleware and
# OriginValidator, Starlette-style and this package's own wrappers.
_INNER_APP_ATTRIBUTES = ("inner", "application", "app")
_MAX_MIDDLEWARE_DEPTH = 32


def _route_text(pattern: Any) -> str:
    route = getattr(pattern, "_route", None)
    if isinstance(route, str):
        return _CONVERTER.sub(r"<\1>", route)
    regex = str(pattern).lstrip("^").rstrip("$")
    return _REGEX_GROUP.sub(r"<\1>", regex)


def _inner(app: Any) -> Any:
    """The app a middleware wraps, or None when ``app`` wraps nothing we can see."""
    return next(
        (
            getattr(app, name)
            for name in _INNER_APP_ATTRIBUTES
            if getattr(app, name, None) is not None
        ),
        None,
    )


def inner_app(app: Any) -> Any:
    """The tracked app (or router) inside middleware, else ``app`` itself.

    ``path("ws/chat/", AuthMiddlewareStack(track("chat", ...)))`` is a tracked route.
    """
    found = app
    for _ in range(_MAX_MIDDLEWARE_DEPTH):
        if isinstance(found, TrackedSocket | UnroutedSocket) or hasattr(found, "routes"):
            return found
        found = _inner(found)
        if found is None:
            break
    return app


def _nested(callback: Any) -> Sequence[Any] | None:
    """The routes of a nested router, or None for an endpoint.

    A tracked router is an endpoint here: its type covers every path below it.
    """
    if isinstance(callback, TrackedSocket):
        return None
    routes: Sequence[Any] | None = getattr(callback, "routes", None)
    return routes


def _walk(routes: Iterable[Any], prefix: str = "/") -> Iterator[tuple[str, Any]]:
    """Yield ``(path template, app)`` for every endpoint, nested routers flattened."""
    for route in routes:
        callback = inner_app(getattr(route, "callback", None))
        template = prefix + _route_text(route.pattern)
        nested = _nested(callback)
        if nested is not None:
            yield from _walk(nested, template)
        else:
            yield template, callback


def tracked_endpoints(routes: Iterable[Any]) -> dict[str, str]:
    """Map each tracked socket type to its path template, walking nested routers.

    A consumer class may list its query parameters as ``query_params``; they
    are shown as ``?name=<name>`` placeholders, never with values.
    """
    endpoints: dict[str, str] = {}
    for template, app in _walk(routes):
        if isinstance(app, TrackedSocket):
            consumer = getattr(app.app, "consumer_class", None)
            params = tuple(getattr(consumer, "query_params", ()))
            query = "&".join(f"{name}=<{name}>" for name in params)
            endpoints.setdefault(app.socket_type, template + (f"?{query}" if query else ""))
    return endpoints


def untracked_routes(routes: Iterable[Any]) -> list[str]:
    """Return the path of every route whose app is neither tracked nor the catch-all."""
    return [
        template
        for template, app in _walk(routes)
        if not isinstance(app, TrackedSocket | UnroutedSocket)
    ]


def _match(routes: Iterable[Any], rest: str, prefix: str) -> tuple[str, Any] | None:
    # As URLRouter matches: the first route whose pattern matches, nested
    # routers matching the rest of the path.
    for route in routes:
        match = route.pattern.match(rest)
        if not match:
            continue
        template = prefix + _route_text(route.pattern)
        callback = inner_app(route.callback)
        nested = _nested(callback)
        if nested is None:
            return template, callback
        # Django's patterns return (the rest of the path, args, kwargs).
        found = _match(nested, match[0], template)
        if found is not None:
            return found
    return None


def matching_route(routes: Iterable[Any], path: str) -> tuple[str, Any] | None:
    """Return the template and app of the endpoint serving ``path``, or None when none does."""
    return _match(routes, path.lstrip("/"), "/")


def path_template(routes: Iterable[Any], path: str) -> str | None:
    """Return the template of the tracked route serving ``path``, or None.

    >>> from django.urls import path as route
    >>> from channels.generic.websocket import WebsocketConsumer
    >>> from metrics import track
    >>> from prometheus_client import CollectorRegistry
    >>> from metrics import SocketTracker
    >>> tracker = SocketTracker(CollectorRegistry())
    >>> app = track("call", WebsocketConsumer.as_asgi(), tracker=tracker)
    >>> routes = [route("ws/call/<str:room>/", app)]
    >>> path_template(routes, "/ws/call/r42/")
    '/ws/call/<room>/'
    """
    found = matching_route(routes, path)
    return found[0] if found is not None and isinstance(found[1], TrackedSocket) else None


def find_routes(app: Any) -> Sequence[Any] | None:
    """Find the WebSocket routes in an ASGI app, through ProtocolTypeRouter and middleware."""
    outer = app
    for _ in range(_MAX_MIDDLEWARE_DEPTH):  # through wrappers of the whole application
        mapping = getattr(outer, "application_mapping", None)
        if isinstance(mapping, dict):
            app = mapping.get("websocket")
            break
        outer = _inner(outer)
        if outer is None:
            break
    routes = getattr(inner_app(app), "routes", None)
    return list(routes) if isinstance(routes, list | tuple) else None


@cached_per_settings
def project_routes() -> Sequence[Any]:
    """The project's WebSocket routes (see the module docstring); empty when none are found.

    Raises ImportError when ``WEBSOCKET_ROUTES`` names nothing importable
    (system check ``vidai_metrics.E002`` reports it).
    """
    dotted = get_settings().websocket_routes
    if dotted:
        routes: Sequence[Any] = import_string(dotted)
        return routes
    application = getattr(settings, "ASGI_APPLICATION", None)
    if not application:
        return ()
    return find_routes(import_string(application)) or ()
