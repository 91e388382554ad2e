"""Which registry ``/metrics`` and the status JSON read: the same one, always."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from ..conf import multiprocess_dir
from ..core.tracker import default_tracker

__all__ = ["exposed_registry"]


def exposed_registry() -> CollectorRegistry:
    """Return the registry to expose: every worker's files, or this process's registry."""
    directory = multiprocess_dir()
    if directory:
        # Imported here: one process never loads prometheus_client's multiprocess code.
        from ..multiprocess import merged_registry

        return merged_registry(directory)
    return default_tracker().registry
