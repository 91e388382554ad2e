"""``SocketStatusService``: the seed's facade over the exporter's live registry.

For sockets that code opens outside the tracked routes (a worker holding an
upstream connection, say), and for reading what the status JSON shows from
Python. What it registers shows up in ``/metrics`` and the status JSON
exactly like tracked sockets. Thread-safe: the live registry locks every change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync

from .. import label_values
from ..core.live import LiveSocket
from ..core.tracker import SocketTracker, declare_type, tracker_or_default, valid_type
from .status import read_status

__all__ = ["SocketStatusService"]


def _describe(sock: LiveSocket) -> dict[str, Any]:
    key = sock.key[1] if isinstance(sock.key, tuple) and sock.key[0] == "manual" else sock.key
    return {
        "socket_id": str(key),
        "type": sock.type,
        "connected_at": datetime.fromtimestamp(sock.started_at, UTC).isoformat(),
        "user_id": sock.user_id,
    }


class SocketStatusService:
    """Register sockets by hand and read the same status the JSON view serves.

    ``register_socket``, ``unregister_socket`` and the socket lists use
    ``tracker`` (the process default unless injected, as tests do); the status
    methods read what ``/metrics`` exposes, as ``SocketStatusView`` does:

    >>> from prometheus_client import CollectorRegistry
    >>> SocketStatusService.tracker = SocketTracker(CollectorRegistry())
    >>> SocketStatusService.register_socket("upstream-1", "stt")
    >>> SocketStatusService.get_sockets_by_type("stt")[-1]["socket_id"]
    'upstream-1'
    >>> SocketStatusService.unregister_socket("upstream-1")
    True
    >>> SocketStatusService.tracker = None
    """

    tracker: SocketTracker | None = None
    """The tracker to use; the process default when None."""

    @classmethod
    def _tracker(cls) -> SocketTracker:
        return tracker_or_default(cls.tracker)

    @classmethod
    def register_socket(
        cls, socket_id: str, socket_type: str, user_id: str | int | None = None
    ) -> None:
        """Count a socket as open; ValueError if the id is taken or the type is not a name."""
        # A type from code: declared for the default tracker, or on the injected one only.
        socket_type = declare_type(socket_type) if cls.tracker is None else valid_type(socket_type)
        try:
            cls._tracker().opened(
                socket_type,
                key=("manual", str(socket_id)),
                user_id=None if user_id is None else str(user_id),
            )
        except KeyError:
            raise ValueError(f"socket {socket_id!r} is already registered") from None

    @classmethod
    def unregister_socket(cls, socket_id: str, code: int = 1000) -> bool:
        """Count a registered socket as closed by the server; False if it was not open."""
        return cls._tracker().closed(
            ("manual", str(socket_id)), code=code, initiator=label_values.SERVER
        )

    @classmethod
    def get_socket_status(cls) -> dict[str, Any]:
        """Return the status document ``SocketStatusView`` serves (sync code; see ``aget_``)."""
        return async_to_sync(read_status)()

    @classmethod
    async def aget_socket_status(cls) -> dict[str, Any]:
        """Return the status document ``SocketStatusView`` serves, from async code."""
        return await read_status()

    @classmethod
    def get_all_sockets(cls) -> list[dict[str, Any]]:
        """Return every open socket in this process, oldest first."""
        return [_describe(sock) for sock in cls._tracker().sockets()]

    @classmethod
    def get_sockets_by_type(cls, socket_type: str) -> list[dict[str, Any]]:
        """Return this process's open sockets of one type, oldest first."""
        return [_describe(sock) for sock in cls._tracker().sockets() if sock.type == socket_type]

    @classmethod
    def get_socket_info_summary(cls) -> dict[str, Any]:
        """Return counts by type and the oldest age per type, without per-socket data."""
        status = cls.get_socket_status()
        return {
            "total_sockets": status["total_sockets"],
            "sockets_by_type": status["sockets_by_type"],
            "oldest_connection_age_seconds": status["oldest_connection_age_seconds"],
        }
