"""The views at the path a project's ``urls.py`` imports them from (``metrics.http.views``)."""

from .http.views import MetricsView, SocketListView, SocketStatusView, metrics_view

__all__ = ["MetricsView", "SocketListView", "SocketStatusView", "metrics_view"]
