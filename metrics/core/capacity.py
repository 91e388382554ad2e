"""The configured connection limit, exported at scrape time for the capacity alert."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from ..conf import get_settings
from ..contract import HELP, LIMIT

__all__ = ["ConnectionLimitCollector"]

_HELP = HELP[LIMIT]


class ConnectionLimitCollector(Collector):
    """Yield ``vidai_websocket_connections_limit`` from the settings read at each scrape.

    The total has no ``type`` label; ``CONNECTION_LIMIT_BY_TYPE`` adds one series per
    listed type. Nothing configured: no series, so the capacity alert has nothing to divide.

    >>> from django.test import override_settings
    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> registry.register(ConnectionLimitCollector())
    >>> with override_settings(VIDAI_METRICS={"CONNECTION_LIMIT": 5000}):
    ...     registry.get_sample_value("vidai_websocket_connections_limit")
    5000.0
    """

    def describe(self) -> Iterator[Metric]:
        yield Metric(LIMIT, _HELP, "gauge")

    def collect(self) -> Iterator[Metric]:
        config = get_settings()
        if config.connection_limit is None and not config.connection_limit_by_type:
            return
        family = Metric(LIMIT, _HELP, "gauge")
        if config.connection_limit is not None:
            family.add_sample(LIMIT, {}, float(config.connection_limit))
        for socket_type, limit in config.connection_limit_by_type:
            family.add_sample(LIMIT, {"type": socket_type}, float(limit))
        yield family
