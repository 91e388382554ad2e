"""Shared fixtures: fresh registries, real servers, and system-tool lookup."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections
from prometheus_client import CollectorRegistry

from consultation.routing import websocket_urlpatterns
from metrics.asgi.routes import tracked_endpoints
from metrics.core.tracker import SocketTracker

from .accounts import Accounts, create_accounts, seed
from .servers import SERVERS, LiveServer, migrate, run_server

# Vidai's socket types, as its routes declare them.
VIDAI_TYPES = tuple(tracked_endpoints(websocket_urlpatterns))

# ASGI apps the test servers run; importing them here (doctest collection)
# would declare their fault types in this process's default tracker.
collect_ignore = ["asgi_app.py", "soak_app.py", "matrix"]


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
    return SocketTracker(registry, types=VIDAI_TYPES)


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("db") / "vidai.sqlite3")
    migrate(path)
    seed(path)
    return path


@pytest.fixture(scope="session")
def accounts(sqlite_path: str) -> Accounts:
    """Sessions of the test users (tests/accounts.py) in the servers' shared database."""
    return Accounts()


@pytest.fixture(params=SERVERS)
def asgi_server(request: pytest.FixtureRequest, sqlite_path: str) -> Iterator[LiveServer]:
    """A real uvicorn, then a real daphne, serving the test ASGI app."""
    with run_server(request.param, sqlite_path) as server:
        yield server


@pytest.fixture
async def accounts_db(transactional_db: None) -> AsyncIterator[None]:
    """The test accounts in pytest-django's database, for consumers driven in process.

    Consumers query from asgiref's shared thread. Its connection to the
    in-memory test database ignores close(), so it is dropped instead: left
    there, the next test's consumers (Channels closes old connections before
    each message) would touch it where the database is not allowed.
    """
    await database_sync_to_async(create_accounts)()
    yield
    await sync_to_async(_forget_connections)()


def _forget_connections() -> None:
    for connection in connections.all(initialized_only=True):
        del connections[connection.alias]
