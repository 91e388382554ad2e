"""ASGI wrapper answering the status JSON before Django's middleware stack."""

from __future__ import annotations

from .asgi_types import ASGIApp, Receive, Scope, Send
from .status_http import StatusRequest, respond

__all__ = ["StatusFastPath"]


class StatusFastPath:
    """Serve the status JSON at ``path`` itself; pass every other request on.

    Mount it around Django's HTTP app in ``asgi.py``; the answers are
    ``SocketStatusView``'s, without a thread hop per sync middleware:

    >>> async def django_http_app(scope, receive, send): ...
    >>> http_app = StatusFastPath(django_http_app, path="/socket-status/")
    >>> http_app.path
    '/socket-status/'
    """

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        if not path.startswith("/"):
            raise ValueError(f"the status path must start with '/', not {path!r}")
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http" or scope.get("path") != self.path:
            return await self.app(scope, receive, send)
        client = scope.get("client")
        request = StatusRequest(
            method=scope["method"],
            headers={
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in scope.get("headers", [])
            },
            peer=client[0] if client else "",
        )
        response = await respond(request)
        body = b"" if request.method == "HEAD" else response.body
        headers = [(name.encode(), value.encode()) for name, value in response.headers.items()]
        if response.status not in (204, 304):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return None
