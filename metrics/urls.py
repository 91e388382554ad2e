"""URLconf for the exporter: ``path("", include("metrics.urls"))`` serves /metrics."""

from django.urls import path

from .http.views import metrics_view

urlpatterns = [path("metrics", metrics_view, name="vidai-metrics")]
