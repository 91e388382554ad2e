"""The tracked endpoints of a Channels routing table, for documentation and JSON."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .tracking import TrackedSocket, UnroutedSocket

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _route_text(pattern: Any) -> str:
    route = getattr(pattern, "_route", None)
    if isinstance(route, str):
        return _CONVERTER.sub(r"<\1>", route)
    regex = str(pattern).lstrip("^").rstrip("$")
    return _REGEX_GROUP.sub(r"<\1>", regex)


def tracked_endpoints(routes: Iterable[Any], prefix: str = "/") -> dict[str, str]:
    """Map each tracked socket type to its path template, walking nested routers.

    A consumer class may list its query parameters as ``query_params``; they
    are shown as ``?name=<name>`` placeholders, never with values.
    """
    endpoints: dict[str, str] = {}
    for route in routes:
        callback = getattr(route, "callback", None)
        path = prefix + _route_text(route.pattern)
        nested = getattr(callback, "routes", None)
        if nested is not None:
            endpoints.update(tracked_endpoints(nested, path))
        elif isinstance(callback, TrackedSocket):
            consumer = getattr(callback.app, "consumer_class", None)
            params = tuple(getattr(consumer, "query_params", ()))
            query = "&".join(f"{name}=<{name}>" for name in params)
            endpoints.setdefault(callback.socket_type, path + (f"?{query}" if query else ""))
    return endpoints


def path_template(routes: Iterable[Any], path: str, prefix: str = "/") -> str | None:
    """Return the template of the tracked route serving ``path``, or None.

    >>> path_template(websocket_urlpatterns, "/ws/call/r42/")  # doctest: +SKIP
    '/ws/call/<room>/'
    """
    rest = path.lstrip("/") if prefix == "/" else path
    for route in routes:
        match = route.pattern.match(rest)
        if not match:
            continue
        here = prefix + _route_text(route.pattern)
        nested = getattr(route.callback, "routes", None)
        if nested is not None:
            found = path_template(nested, match[0], here)
            if found is not None:
                return found
            continue
        return here if isinstance(route.callback, TrackedSocket) else None
    return None


def untracked_routes(routes: Iterable[Any], prefix: str = "/") -> list[str]:
    """Return the path of every route whose app is neither tracked nor the catch-all."""
    found: list[str] = []
    for route in routes:
        callback = getattr(route, "callback", None)
        path = prefix + _route_text(route.pattern)
        nested = getattr(callback, "routes", None)
        if nested is not None:
            found.extend(untracked_routes(nested, path))
        elif not isinstance(callback, TrackedSocket | UnroutedSocket):
            found.append(path)
    return found
