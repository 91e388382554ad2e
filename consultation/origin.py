"""Origin validation for every WebSocket handshake (cross-site WebSocket hijacking).

A browser sends the session cookie with any page's WebSocket, whatever site
the page is on; the ``Origin`` header is what tells them apart. Allowed: the
site's own hosts (``ALLOWED_HOSTS``, in DEBUG with none set the local ones,
as Django's host validation does; ``*`` counts for none) on any port, and the exact origins in
``VIDAI_WEBSOCKETS["ALLOWED_ORIGINS"]``. ``Origin: null`` (sandboxed frames,
file pages) and a missing Origin are refused: nothing tells whose page it is.

The refusal is a close with code 4400 before accept, which the exporter
counts as ``rejected{reason="forbidden_origin"}``; the client sees HTTP 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from .conf import policy

CLOSE_FORBIDDEN_ORIGIN = 4400
# Django's own fallback when DEBUG is on and ALLOWED_HOSTS is empty.
_DEBUG_HOSTS = (".localhost", "127.0.0.1", "[::1]")


def origin_allowed(origin: str | None) -> bool:
    """Whether a handshake's ``Origin`` is this site's or a configured one."""
    if not origin or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
        hostname, _ = parts.hostname, parts.port  # .port checks the port
    except ValueError:  # a malformed port or IPv6 literal
        return False
    if parts.scheme not in ("http", "https") or not hostname:
        return False
    if origin.rstrip("/").lower() in policy().allowed_origins:
        return True
    hosts = settings.ALLOWED_HOSTS or (_DEBUG_HOSTS if settings.DEBUG else ())
    # "*" names no host of this site: it would let every site's pages in.
    hosts = [pattern for pattern in hosts if pattern != "*"]
    host = f"[{hostname}]" if ":" in hostname else hostname
    return validate_host(host, hosts)


def handshake_origin(scope: dict[str, Any]) -> str | None:
    """The request's single ``Origin`` header, or None when absent, repeated or not text."""
    values = [value for name, value in scope.get("headers", ()) if name == b"origin"]
    if len(values) != 1:
        return None
    try:
        return bytes(values[0]).decode("ascii")
    except UnicodeDecodeError:
        return None


class OriginCheck:
    """ASGI middleware: WebSocket handshakes from another site are refused (4400).

    ``track_rejections(OriginCheck(AuthMiddlewareStack(URLRouter(routes))))``:
    refused before the session is even read.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket" or origin_allowed(handshake_origin(scope)):
            return await self.app(scope, receive, send)
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN_ORIGIN})
        return None
