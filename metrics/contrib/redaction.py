"""A logging filter that keeps WebSocket paths and query strings out of server logs.

Query strings carry patient and clinician names (``?name=``) and paths carry
room ids (``/ws/call/<room>/``). uvicorn logs both when a socket connects or
is refused, and a plain HTTP request for the same path is logged too (the
server's access line, Django's "Not Found"). The filter cuts every query
string and rewrites a WebSocket path to its route template
(``/ws/call/<room>/``): in a WebSocket record every path, in any other record
the paths under the routes' common prefix (``/ws/``) or under a route's
parameters (``/ws/call/``); one no route serves becomes ``[unrouted path]``.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..asgi.routes import path_template, project_routes, tracked_endpoints
from ..conf import cached_per_settings

# A path and its optional query string, as servers log them ("/ws/x/?a=b").
_PATH = re.compile(r"(?<![\w:/])(/[^\s?\"']*)(\?[^\s\"']*)?")
UNROUTED = "[unrouted path]"


def importable_routes() -> Sequence[Any]:
    """The project's routes, or none when they cannot be imported (check E002 says why)."""
    try:
        return project_routes()
    except ImportError:
        return ()


@cached_per_settings
def routes_and_prefixes() -> tuple[Sequence[Any], tuple[str, ...]]:
    # Once per settings change, not per log record: walking the routes costs
    # microseconds, and uvicorn logs a line or two for every socket.
    routes = importable_routes()
    return routes, socket_prefixes(routes)


def socket_prefixes(routes: Sequence[Any]) -> tuple[str, ...]:
    """Where WebSocket paths live: the routes' common directory, and each route's fixed part.

    >>> from django.urls import path
    >>> from channels.generic.websocket import WebsocketConsumer
    >>> from prometheus_client import CollectorRegistry
    >>> from metrics import SocketTracker, track
    >>> tracker = SocketTracker(CollectorRegistry())
    >>> app = WebsocketConsumer.as_asgi()
    >>> socket_prefixes([path("ws/call/<str:room>/", track("call", app, tracker=tracker)),
    ...                  path("ws/stt/", track("stt", app, tracker=tracker))])
    ('/ws/', '/ws/call/')
    """
    templates = [template.partition("?")[0] for template in tracked_endpoints(routes).values()]
    if not templates:
        return ()
    fixed = [template.partition("<")[0] for template in templates]
    common = posixpath.commonpath(fixed)
    prefixes = {common + "/"} if common != "/" else set()  # "/" would be every path
    prefixes.update(fixed[i] for i, template in enumerate(templates) if "<" in template)
    return tuple(sorted(prefixes))


def redact(
    text: str,
    *,
    websocket: bool = False,
    routes: Sequence[Any] = (),
    prefixes: tuple[str, ...] | None = None,
) -> str:
    """Cut query strings from ``text`` and template its WebSocket paths (see the module).

    ``prefixes`` are ``socket_prefixes(routes)``, computed here when not given.
    """
    if "/" not in text:  # no path, nothing to cut: most log records
        return text
    if websocket:
        prefixes = ()
    elif prefixes is None:
        prefixes = socket_prefixes(routes)

    def replace(match: re.Match[str]) -> str:
        path, query = match.group(1), match.group(2)
        suffix = "?[redacted]" if query else ""
        if not websocket and not path.startswith(prefixes):
            return path + suffix
        template = path_template(routes, path)
        return (template + suffix) if template is not None else UNROUTED

    return _PATH.sub(replace, text)


class RedactSocketPaths(logging.Filter):
    """Rewrite a record's message and arguments without personal path parts.

    The routes and their prefixes are read once per settings change; a record
    none of whose strings holds a ``/`` is passed on untouched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        args = record.args if isinstance(record.args, tuple) else ()
        if "/" not in message and not any(isinstance(arg, str) and "/" in arg for arg in args):
            return True
        websocket = "websocket" in message.lower()
        routes, prefixes = routes_and_prefixes()
        if message:
            record.msg = redact(message, websocket=websocket, routes=routes, prefixes=prefixes)
        if args:
            record.args = tuple(
                redact(arg, websocket=websocket, routes=routes, prefixes=prefixes)
                if isinstance(arg, str)
                else arg
                for arg in args
            )
        return True


def install(logger_names: Iterable[str]) -> None:
    """Add the filter to each named logger once."""
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactSocketPaths) for f in target.filters):
            target.addFilter(RedactSocketPaths())
