"""Shared fixtures: fresh registries and trackers, system-tool lookup.

The product's tests run on ``tests.settings`` (no demo); ``tests/demo/``
runs apart, on ``tests.demo.settings``, with the demo's own fixtures.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from prometheus_client import CollectorRegistry

from metrics.core.tracker import SocketTracker

HERE = Path(__file__).resolve().parent
DEMO_SETTINGS = "tests.demo.settings"

# ASGI apps the test servers run; importing them here (doctest collection)
# would declare their fault types in this process's default tracker.
collect_ignore = ["asgi_app.py", "soak_app.py", "matrix"]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The demo's tests only on the demo's settings; the product's only on the product's."""
    demo_run = settings.SETTINGS_MODULE == DEMO_SETTINGS
    if collection_path == HERE / "demo":
        return None if demo_run else True
    if demo_run and collection_path.suffix == ".py" and collection_path.parent == HERE:
        return True
    return None


def require_tool(name: str) -> str:
    """Return the tool's path; skip when missing, or fail when CI requires system tools."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (Debian package: see CONTRIBUTING.md)"
    if os.environ.get("VIDAI_REQUIRE_SYSTEM_TOOLS") == "1":
        pytest.fail(message + "; VIDAI_REQUIRE_SYSTEM_TOOLS=1 makes this an error")
    pytest.skip(message)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def tracker(registry: CollectorRegistry) -> SocketTracker:
    """A tracker of the test project's socket types, on a fresh registry."""
    from .routing import TYPES

    return SocketTracker(registry, types=TYPES)


@pytest.fixture
async def layer(settings: Any) -> Any:
    """A fresh in-memory channel layer, whatever the settings (or REDIS_URL) name."""
    from channels.layers import get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layer = get_channel_layer()
    yield channel_layer
    await channel_layer.flush()
