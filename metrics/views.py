"""The ``/metrics`` view: prometheus_client's own Django view behind access control."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseBase
from django.views import View
from prometheus_client.django import PrometheusDjangoView

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

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response: HttpResponseBase = self.get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        return response

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return View.options(self, request, *args, **kwargs)


metrics_view = login_not_required(MetricsView.as_view())
