"""The exporter's Django views: ``/metrics``, the status JSON and the staff listing."""

from __future__ import annotations

import gzip
import time
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector

from ..core.tracker import default_tracker
from .access import denial
from .exposition import exposition
from .status_answers import StatusRequest, respond

__all__ = ["MetricsView", "SocketListView", "SocketStatusView", "metrics_view"]


@method_decorator(login_not_required, name="dispatch")
class MetricsView(View):
    """Serve the exposition to allowed scrapers: text or OpenMetrics, gzip, ``name[]`` filters.

    An async view, so that under ASGI one process's exposition is rendered on
    the event loop that opens and closes the sockets: a scrape then falls
    between two tracker calls, never inside one, and ``opened - closed ==
    open`` holds in every scrape (a thread could read a socket gone from the
    live registry before its close is counted). Multiprocess mode reads files,
    in a thread.
    """

    http_method_names = ["get", "head", "options"]  # noqa: RUF012

    # django-stubs types dispatch() as sync; an async view's is a coroutine.
    async def dispatch(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        refused = denial(request)
        if refused is not None:
            return refused
        # An async view's handlers (and Django's own options()) return awaitables.
        handled: Any = super().dispatch(request, *args, **kwargs)
        response: HttpResponseBase = await handled
        return response

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Render the exposed registry as the scraper asked."""
        here = exposition()
        exposed = here.registry()
        names = request.GET.getlist("name[]")
        registry: Collector = exposed.restricted_registry(names) if names else exposed
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        output = await here.read(lambda: encoder(registry))
        headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"}
        if gzip_accepted(request.headers.get("Accept-Encoding", "")):
            output = gzip.compress(output)
            headers["Content-Encoding"] = "gzip"
        return HttpResponse(output, headers=headers)

    head = get


metrics_view = MetricsView.as_view()


# csrf_exempt: it changes nothing, so an unsafe method gets its 405, not CSRF's 403.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class SocketStatusView(View):
    """The status JSON the frontend polls; mount it at any path.

    ``path("socket-status/", SocketStatusView.as_view())``. Counts only, so
    anyone may read it; ETag/304, HEAD, OPTIONS (CORS for the configured
    origins), 405 with ``Allow`` and a per-client rate limit, the same answers
    as ``metrics.http.fastpath.StatusFastPath`` in front of Django.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # Every method, unknown ones too, goes to respond(): it answers 405 with
        # the endpoint's own Allow, as the fast path does.
        return self.get(request, *args, **kwargs)

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Answer the request for the status JSON, whatever its method."""
        answer = await respond(
            StatusRequest(
                method=request.method or "GET",
                headers={name.lower(): value for name, value in request.headers.items()},
                peer=request.META.get("REMOTE_ADDR", ""),
            )
        )
        response = answer.django(head=request.method == "HEAD")
        if answer.status == 200:
            response["Content-Length"] = str(len(answer.body))
        return response


class SocketListView(View):
    """Open sockets of this process (id, type, since, age, user id), for staff only.

    Never names, rooms or query strings: the live registry holds none.
    """

    http_method_names = ["get", "head"]  # noqa: RUF012

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return JsonResponse({"error": "staff only"}, status=403)
        now = time.time()
        sockets = [
            {
                "id": str(sock.key[1] if isinstance(sock.key, tuple) else sock.key),
                "type": sock.type,
                "since": sock.started_at,
                "age_seconds": round(max(0.0, now - sock.started_at), 3),
                "user_id": sock.user_id,
            }
            for sock in default_tracker().sockets()
        ]
        response = JsonResponse({"sockets": sockets, "count": len(sockets)})
        response["Cache-Control"] = "private, no-store"
        return response

    head = get
