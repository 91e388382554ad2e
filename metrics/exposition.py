"""Which registry ``/metrics`` and the status JSON read: the same one, always."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, multiprocess

from .tracker import default_tracker


def multiprocess_dir() -> str | None:
    """Return prometheus_client's multiprocess directory, if one is configured."""
    # prometheus_client still honours the old lower-case name too.
    legacy = "prometheus_multiproc_dir"
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(legacy)


def exposed_registry() -> CollectorRegistry:
    """Return the registry to expose: every worker's files, or this process's registry."""
    if multiprocess_dir():
        # prometheus_client's multiprocess guide: a fresh registry per scrape.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return default_tracker().registry
