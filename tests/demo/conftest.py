"""The demo's fixtures: Vidai's socket types, its database and accounts, its servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections
from prometheus_client import CollectorRegistry

from consultation.routing import websocket_urlpatterns
from metrics.asgi.routes import tracked_endpoints
from metrics.core.tracker import SocketTracker

from ..accounts import Accounts, create_accounts, seed
from ..servers import SERVERS, LiveServer, migrate, run_server

# Vidai's socket types, as its routes declare them.
VIDAI_TYPES = tuple(tracked_endpoints(websocket_urlpatterns))


@pytest.fixture
def tracker(registry: CollectorRegistry) -> SocketTracker:
    """A tracker of Vidai's socket types, on a fresh registry."""
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
