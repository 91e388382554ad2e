"""The ``/metrics`` view: prometheus_client's own Django view behind access control."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View
from prometheus_client.django import PrometheusDjangoView
from prometheus_client.exposition import _bake_output

from .access import denial
from .exposition import exposed_registry


class MetricsView(PrometheusDjangoView):
    """Serve the exposition (content negotiation, OpenMetrics, gzip) to allowed scrapers."""

    http_method_names = ["get", "head", "options"]  # noqa: RUF012

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refused = denial(request)
        if refused is not None:
            return refused
        self.registry = exposed_registry()
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # As PrometheusDjangoView.get, but with the query as lists (what parse_qs
        # gives): from a QueryDict, name[] would be one string, filtered by letter.
        status, headers, output = _bake_output(  # type: ignore[no-untyped-call]
            self.registry,
            request.headers.get("Accept"),
            request.headers.get("Accept-Encoding"),
            dict(request.GET.lists()),
            False,
        )
        return HttpResponse(output, status=int(status.split(" ")[0]), headers=headers)

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.get(request, *args, **kwargs)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return View.options(self, request, *args, **kwargs)


metrics_view = login_not_required(MetricsView.as_view())
