"""ASGI wrapper answering the status JSON before Django's middleware stack."""

from __future__ import annotations

from metrics.asgi_types import ASGIApp, Receive, Scope, Send

from .endpoint import StatusRequest, respond

STATUS_PATH = "/consultation/socket-status/"


class StatusFastPath:
    """Serve ``GET /consultation/socket-status/`` itself; pass everything else on.

    >>> from django.core.asgi import get_asgi_application  # doctest: +SKIP
    >>> http_app = StatusFastPath(get_asgi_application())  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http" or scope.get("path") != STATUS_PATH:
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
