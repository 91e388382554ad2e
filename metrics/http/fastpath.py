"""ASGI wrapper answering the status JSON before Django's middleware stack.

The stack it skips guarded every response; the wrapper keeps those guards,
read from the current settings on each request: the ``Host`` header must be
in ``ALLOWED_HOSTS`` (else 400, logged to ``django.security.DisallowedHost``
as Django does), and Django's own ``SecurityMiddleware`` (HTTPS redirect,
HSTS, ``nosniff``, ``Referrer-Policy``, ``Cross-Origin-Opener-Policy``) and
``XFrameOptionsMiddleware`` run on the request and the answer when
``MIDDLEWARE`` lists them.
"""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string
from django.views.defaults import bad_request

from ..asgi.types import ASGIApp, Receive, Scope, Send
from ..conf import cached_per_settings
from .status_answers import StatusRequest, respond

__all__ = ["StatusFastPath"]

_disallowed_host_logger = logging.getLogger("django.security.DisallowedHost")

Guard = SecurityMiddleware | XFrameOptionsMiddleware


@cached_per_settings
def _guard_classes() -> tuple[type[Guard], ...]:
    """The security middleware of ``MIDDLEWARE`` the fast path runs, in its order."""
    found: list[type[Guard]] = []
    for dotted in settings.MIDDLEWARE:
        middleware = import_string(dotted)
        if isinstance(middleware, type) and issubclass(
            middleware, SecurityMiddleware | XFrameOptionsMiddleware
        ):
            found.append(middleware)
    return tuple(found)


def _never_called(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("the fast path answers the request itself")


def _refusal(request: HttpRequest, guards: list[Guard]) -> HttpResponse | None:
    """Return the 400 or HTTPS redirect Django's stack would have answered, else None."""
    try:
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
        for guard in guards:
            if isinstance(guard, SecurityMiddleware):
                redirect = guard.process_request(request)
                if redirect is not None:
                    return redirect
    except DisallowedHost as error:
        # Django's handler logs this too; the Host header is the client's, no one's data.
        _disallowed_host_logger.error(str(error), extra={"status_code": 400})
        return bad_request(request, error)
    return None


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
        # Headers only: the endpoint never reads a body.
        request = ASGIRequest(scope, io.BytesIO())
        guards = [guard_class(_never_called) for guard_class in _guard_classes()]
        response = _refusal(request, guards) or await self._answer(scope, request)
        for guard in reversed(guards):
            response = guard.process_response(request, response)
        if response.status_code not in (204, 304) and not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
        ]
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        body = b"" if request.method == "HEAD" else response.content
        await send({"type": "http.response.body", "body": body})
        return None

    async def _answer(self, scope: Scope, request: HttpRequest) -> HttpResponse:
        client = scope.get("client")
        answer = await respond(
            StatusRequest(
                method=request.method or "GET",
                headers={
                    name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in scope.get("headers", [])
                },
                peer=client[0] if client else "",
            )
        )
        return answer.django()
