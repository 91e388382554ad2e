"""Which registry ``/metrics`` and the status JSON read: the same one, always."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from .collector import MultiProcessSocketCollector
from .tracker import default_tracker
from .workers import multiprocess_dir

__all__ = ["exposed_registry", "multiprocess_dir"]


def exposed_registry() -> CollectorRegistry:
    """Return the registry to expose: every worker's files, or this process's registry."""
    directory = multiprocess_dir()
    if directory:
        # prometheus_client's multiprocess guide: a fresh registry per scrape.
        registry = CollectorRegistry()
        registry.register(MultiProcessSocketCollector(directory))
        return registry
    return default_tracker().registry
