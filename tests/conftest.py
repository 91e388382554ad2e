"""Shared fixtures: fresh registries, real servers, and system-tool lookup."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from consultation.routing import websocket_urlpatterns
from metrics.routing import tracked_endpoints
from metrics.tracker import SocketTracker

from .servers import SERVERS, LiveServer, migrate, run_server

# Vidai's socket types, as its routes declare them.
VIDAI_TYPES = tuple(tracked_endpoints(websocket_urlpatterns))

# ASGI apps the test servers run; importing them here (doctest collection)
# would declare their fault types in this process's default tracker.
collect_ignore = ["asgi_app.py", "soak_app.py"]


def require_tool(name: str) -> str:
    """Return the tool's path; skip when missing, or fail when CI requires system tools."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (Debian package: see README 'Testing')"
    if os.environ.get("VIDAI_REQUIRE_SYSTEM_TOOLS") == "1":
        pytest.fail(message + "; VIDAI_REQUIRE_SYSTEM_TOOLS=1 makes this an error")
    pytest.skip(message)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def tracker(registry: CollectorRegistry) -> SocketTracker:
    return SocketTracker(registry, types=VIDAI_TYPES)


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("db") / "vidai.sqlite3")
    migrate(path)
    return path


@pytest.fixture(params=SERVERS)
def asgi_server(request: pytest.FixtureRequest, sqlite_path: str) -> Iterator[LiveServer]:
    """A real uvicorn, then a real daphne, serving the test ASGI app."""
    with run_server(request.param, sqlite_path) as server:
        yield server
