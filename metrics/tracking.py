"""Pure ASGI wrappers that count WebSocket routes exactly once.

``track(type, app)`` wraps one route's app. The socket is counted open when
the app sends ``websocket.accept`` and closed exactly once: at the first close
frame either way, or in ``finally`` when the app ends without one (it raised,
was cancelled, or returned). Per-connection state lives in a ``_Session``
made per call, never on the wrapper.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Hashable

from . import label_values
from .asgi_types import ASGIApp, Message, Receive, Scope, Send
from .tracker import SocketTracker, declare_type, default_tracker, valid_type

logger = logging.getLogger(__name__)

__all__ = ["ROUTE_SEEN", "RouteSeen", "TrackedSocket", "UnroutedSocket", "track", "unrouted"]

ROUTE_SEEN = "vidai_metrics.route_seen"
"""Scope key under which ``track_rejections`` asks the routes to say they counted a socket."""


class RouteSeen:
    """Set by a tracked route (or the catch-all) that counts the socket itself.

    Middleware copies the scope as it goes (``dict(scope, user=...)``), so the
    outer wrapper passes this mutable marker rather than reading a flag back.
    """

    __slots__ = ("settled",)

    def __init__(self) -> None:
        self.settled = False


def _mark_seen(scope: Scope) -> None:
    seen = scope.get(ROUTE_SEEN)
    if seen is not None:
        seen.settled = True


class _State(enum.Enum):
    PENDING = enum.auto()
    OPEN = enum.auto()
    DONE = enum.auto()


_OPEN = _State.OPEN


class _Ending(enum.Enum):
    RETURNED = enum.auto()
    FAILED = enum.auto()
    CANCELLED = enum.auto()


# The close code a socket gets when the app ends without sending a close
# frame: what uvicorn and daphne then send, or the nearest in the taxonomy.
_CODE_WHEN_APP_ENDS = {
    _Ending.RETURNED: 1000,
    _Ending.FAILED: 1011,
    _Ending.CANCELLED: 1001,
}


def _payload_size(message: Message) -> int:
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text")
    if text is None:
        return 0
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _user_id(scope: Scope) -> str | None:
    user = scope.get("user")
    try:
        if user is not None and user.is_authenticated:
            return str(user.pk)
    except Exception:  # an unresolved lazy user: the socket is still counted
        return None
    return None


# Frames are counted on the session and pushed to the tracker in batches:
# per-frame locking doubled a session's cost. A batch is pushed at close, after
# this many frames, or when this long has passed, so rates stay current.
_FLUSH_FRAMES = 64
_FLUSH_SECONDS = 1.0
_now = time.monotonic


class _Session:
    """One socket's tracking state, made per call of the wrapper."""

    __slots__ = (
        "flushed_at",
        "key",
        "pending",
        "received",
        "received_bytes",
        "scope",
        "sent",
        "sent_bytes",
        "socket_type",
        "state",
        "tracker",
    )

    def __init__(self, tracker: SocketTracker, socket_type: str, scope: Scope) -> None:
        self.tracker = tracker
        self.socket_type = socket_type
        self.scope = scope
        self.state = _State.PENDING
        self.key: Hashable = None
        self.pending = self.received = self.received_bytes = self.sent = self.sent_bytes = 0
        self.flushed_at = 0.0

    def wrap_receive(self, receive: Receive) -> Receive:
        # The frame path is inlined: it runs for every frame of every socket.
        async def tracked_receive() -> Message:
            message = await receive()
            if message.get("type") == "websocket.receive" and self.state is _OPEN:
                self.received += 1
                self.received_bytes += _payload_size(message)
                self.pending += 1
                if self.pending >= _FLUSH_FRAMES or _now() - self.flushed_at >= _FLUSH_SECONDS:
                    self._flush_frames()
            else:
                self.on_receive(message)
            return message

        return tracked_receive

    def wrap_send(self, send: Send) -> Send:
        async def tracked_send(message: Message) -> None:
            if message.get("type") == "websocket.send" and self.state is _OPEN:
                self.sent += 1
                self.sent_bytes += _payload_size(message)
                self.pending += 1
                if self.pending >= _FLUSH_FRAMES or _now() - self.flushed_at >= _FLUSH_SECONDS:
                    self._flush_frames()
            else:
                self.on_send(message)
            await send(message)

        return tracked_send

    def on_receive(self, message: Message) -> None:
        if message.get("type") == "websocket.disconnect":
            if self.state is _State.OPEN:
                self._close(message.get("code", 1005), label_values.CLIENT)
            elif self.state is _State.PENDING:
                # The client left before the app decided: never accepted.
                self._reject(label_values.ERROR)

    def on_send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "websocket.accept":
            if self.state is _State.PENDING:
                self._open()
        elif kind == "websocket.close":
            if self.state is _State.OPEN:
                self._close(message.get("code", 1000), label_values.SERVER)
            elif self.state is _State.PENDING:
                self._reject(label_values.DENIED)
        elif kind == "websocket.http.response.start" and self.state is _State.PENDING:
            self._reject(label_values.DENIED)

    def finish(self, ending: _Ending) -> None:
        if self.state is _State.OPEN:
            self._close(_CODE_WHEN_APP_ENDS[ending], label_values.SERVER)
        elif self.state is _State.PENDING:
            returned = ending is _Ending.RETURNED
            # An app that returns without accepting is denied by the server (403).
            self._reject(label_values.DENIED if returned else label_values.ERROR)

    # Each step below swallows its own errors: tracking never breaks a socket.

    def _open(self) -> None:
        self.state = _State.OPEN
        self.flushed_at = _now()
        try:
            self.key = self.tracker.opened(self.socket_type, user_id=_user_id(self.scope))
        except Exception:
            self.state = _State.DONE
            self._tracking_error("open")

    def _close(self, code: object, initiator: str) -> None:
        self.state = _State.DONE
        self._flush_frames()
        try:
            self.tracker.closed(self.key, code=code, initiator=initiator)
        except Exception:
            self._tracking_error("close")

    def _reject(self, reason: str) -> None:
        self.state = _State.DONE
        try:
            self.tracker.rejected(self.socket_type, reason)
        except Exception:
            self._tracking_error("reject")

    def _flush_frames(self) -> None:
        if not self.pending:
            return
        received, received_bytes, sent, sent_bytes = (
            self.received, self.received_bytes, self.sent, self.sent_bytes
        )  # fmt: skip
        self.pending = self.received = self.received_bytes = self.sent = self.sent_bytes = 0
        self.flushed_at = _now()
        try:
            self.tracker.frames(
                self.socket_type,
                received=received,
                received_bytes=received_bytes,
                sent=sent,
                sent_bytes=sent_bytes,
            )
        except Exception:
            self._tracking_error("frame")

    def _tracking_error(self, stage: str) -> None:
        # The traceback names our code only; the scope (path, query) is never logged.
        logger.exception("socket tracking failed at stage %s for type %s", stage, self.socket_type)
        try:
            self.tracker.tracking_error(stage)
        except Exception:
            logger.exception("counting a tracking error failed")


class TrackedSocket:
    """ASGI wrapper counting one route's WebSocket connections.

    >>> from channels.generic.websocket import WebsocketConsumer
    >>> app = TrackedSocket("call", WebsocketConsumer.as_asgi())
    >>> app.socket_type
    'call'
    """

    def __init__(
        self, socket_type: str, app: ASGIApp, *, tracker: SocketTracker | None = None
    ) -> None:
        # A route counting into an injected tracker declares its type there only.
        if tracker is None:
            self.socket_type = declare_type(socket_type)
        else:
            self.socket_type = valid_type(socket_type)
            tracker.declare(socket_type)
        self.app = app
        self._tracker = tracker

    @property
    def tracker(self) -> SocketTracker:
        """The tracker this route counts into (the process default unless injected)."""
        return self._tracker if self._tracker is not None else default_tracker()

    @property
    def _path_routing(self) -> bool:
        # Channels' URLRouter reads this to treat a route as a prefix for a
        # nested router: a wrapped router must still look like one.
        return getattr(self.app, "_path_routing", False) is True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        _mark_seen(scope)
        session = _Session(self.tracker, self.socket_type, scope)
        ending = _Ending.RETURNED
        try:
            return await self.app(scope, session.wrap_receive(receive), session.wrap_send(send))
        except asyncio.CancelledError:
            ending = _Ending.CANCELLED
            raise
        except BaseException:
            ending = _Ending.FAILED
            raise
        finally:
            session.finish(ending)


def track(socket_type: str, app: ASGIApp, *, tracker: SocketTracker | None = None) -> TrackedSocket:
    """Wrap a route's ASGI app so its sockets are counted as ``socket_type``.

    >>> from django.urls import path
    >>> from channels.generic.websocket import WebsocketConsumer
    >>> route = path("ws/echo/", track("echo", WebsocketConsumer.as_asgi()))
    """
    return TrackedSocket(socket_type, app, tracker=tracker)


class UnroutedSocket:
    """Catch-all route: deny the handshake and count ``rejected{type="unknown"}``.

    Put it last in a ``URLRouter``, as ``re_path(r"", unrouted())``; the path
    that did not match is never logged or labelled.
    """

    def __init__(self, *, tracker: SocketTracker | None = None) -> None:
        self._tracker = tracker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError("UnroutedSocket only handles WebSocket scopes")
        _mark_seen(scope)
        tracker = self._tracker if self._tracker is not None else default_tracker()
        try:
            tracker.rejected(label_values.UNKNOWN_TYPE, label_values.NO_ROUTE)
        except Exception:
            logger.exception("socket tracking failed at stage reject for an unrouted socket")
            tracker.tracking_error("reject")
        await send({"type": "websocket.close", "code": 1008})


def unrouted(*, tracker: SocketTracker | None = None) -> UnroutedSocket:
    """Return the catch-all app that counts and denies unrouted sockets."""
    return UnroutedSocket(tracker=tracker)
