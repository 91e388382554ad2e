"""A logging filter that keeps WebSocket paths and query strings out of server logs.

Query strings carry patient and clinician names (``?name=``) and paths carry
room ids (``/ws/call/<room>/``). uvicorn logs both when a socket connects or
is refused. The filter rewrites a WebSocket path to its route template
(``/ws/call/<room>/``) and cuts every query string.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .routing import path_template, project_routes

# A path and its optional query string, as servers log them ("/ws/x/?a=b").
_PATH = re.compile(r"(?<![\w:/])(/[^\s?\"']*)(\?[^\s\"']*)?")
UNROUTED = "[unrouted path]"


def importable_routes() -> Sequence[Any]:
    """The project's routes, or none when they cannot be imported (check E002 says why)."""
    try:
        return project_routes()
    except ImportError:
        return ()


def redact(text: str, *, websocket: bool = False, routes: Sequence[Any] = ()) -> str:
    """Cut query strings from ``text``; with ``websocket``, template or hide its paths."""

    def replace(match: re.Match[str]) -> str:
        path, query = match.group(1), match.group(2)
        suffix = "?[redacted]" if query else ""
        if not websocket:
            return path + suffix
        template = path_template(routes, path)
        return (template + suffix) if template is not None else UNROUTED

    return _PATH.sub(replace, text)


class RedactSocketPaths(logging.Filter):
    """Rewrite a record's message and arguments without personal path parts."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        websocket = "websocket" in message.lower()
        routes = importable_routes() if websocket else ()
        if message:
            record.msg = redact(message, websocket=websocket, routes=routes)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact(arg, websocket=websocket, routes=routes) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def install(logger_names: Iterable[str]) -> None:
    """Add the filter to each named logger once."""
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactSocketPaths) for f in target.filters):
            target.addFilter(RedactSocketPaths())
