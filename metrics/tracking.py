"""Pure ASGI wrappers that count WebSocket routes exactly once.

``track(type, app)`` wraps one route's app. The socket is counted open when
the app sends ``websocket.accept`` and closed exactly once: at the first close
frame either way, or in ``finally`` when the app ends without one (it raised,
was cancelled, or returned). Per-connection state lives in a ``_Session``
made per call, never on the wrapper.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import time
from collections.abc import Hashable

from . import label_values
from .asgi_types import ASGIApp, Message, Receive, Scope, Send
from .frames import FrameCounts
from .tracker import SocketTracker, declare_type, default_tracker, valid_type

logger = logging.getLogger(__name__)

__all__ = ["TrackedSocket", "UnroutedSocket", "track", "unrouted"]


class RouteSeen:
    """Set by a tracked route (or the catch-all) that counts the socket itself.

    ``started`` is when the outermost tracking layer got the handshake: the
    layers below time the handshake from there, middleware included.
    """

    __slots__ = ("settled", "started")

    def __init__(self, started: float) -> None:
        self.settled = False
        self.started = started

    def passed_through(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """The ``receive`` and ``send`` a settled route may call in place of the ones it got.

        A layer that watches a handshake until a route settles it returns the
        server's own callables here for its watchers, so that an open socket
        carries no watcher that only passes messages on; this one has none.
        """
        return receive, send


# How track_rejections() learns that a route below it counted a socket (an
# internal protocol between the two wrappers, not in __all__). A
# context variable rather than a scope key: the app's scope stays as the
# server made it, and a task or thread the middleware starts inherits it.
route_seen: contextvars.ContextVar[RouteSeen | None] = contextvars.ContextVar(
    "vidai_metrics_route_seen", default=None
)


def routes_paths(app: object) -> bool:
    """Whether ``app`` routes on the path (``_path_routing``), as a wrapper must show.

    Channels' URLRouter reads ``_path_routing`` to treat a route as a prefix
    for a nested router: a wrapped router must still look like one.
    """
    return getattr(app, "_path_routing", False) is True


def mark_seen() -> float:
    """Tell an enclosing ``track_rejections`` that this socket is counted below it.

    Return when the outermost tracking layer got the handshake (now, if this is it).
    """
    seen = route_seen.get()
    if seen is None:
        return time.perf_counter()
    seen.settled = True
    return seen.started


class _State(enum.Enum):
    PENDING = enum.auto()
    OPEN = enum.auto()
    DONE = enum.auto()


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
# A handshake the app never decided: returning is a refusal (the server sends
# 403); cancelled, the client left (daphne's close timeout) or the server is
# stopping, neither of which is the app failing.
_REASON_WHEN_APP_ENDS_PENDING: dict[_Ending, str] = {
    _Ending.RETURNED: label_values.DENIED,
    _Ending.FAILED: label_values.ERROR,
    _Ending.CANCELLED: label_values.CLIENT_GONE,
}


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


# Where frames go when the tracker could not give a type's counts: nowhere read.
_UNCOUNTED = FrameCounts()


def _user_id(scope: Scope) -> str | None:
    user = scope.get("user")
    try:
        if user is not None and user.is_authenticated:
            return str(user.pk)
    except Exception:  # an unresolved lazy user: the socket is still counted
        return None
    return None


class _Session:
    """One socket's tracking state, made per call of the wrapper."""

    # Slots, and methods rather than closures for the app's receive and send:
    # this object lives as long as the socket, 10,000s of them per worker.
    __slots__ = (
        "_receive",
        "_send",
        "frames",
        "key",
        "scope",
        "socket_type",
        "started",
        "state",
        "tracker",
    )

    def __init__(
        self,
        tracker: SocketTracker,
        socket_type: str,
        scope: Scope,
        started: float,
        receive: Receive,
        send: Send,
    ) -> None:
        self.tracker = tracker
        self.socket_type = socket_type
        self.scope = scope
        self.started = started
        self._receive = receive
        self._send = send
        self.state = _State.PENDING
        self.key: Hashable = None
        # The type's counts while the socket is open, added to on every frame
        # and read at every scrape; before and after, counts nobody reads, so
        # the frame path needs no look at the state.
        self.frames = _UNCOUNTED

    # The frame path is inlined, payload size included: it runs for every
    # frame of every socket, and a function call costs as much as the rest.

    async def receive(self) -> Message:
        """The app's ``receive``: the server's, counted."""
        message = await self._receive()
        if message["type"] == "websocket.receive":
            frames = self.frames
            frames.received += 1
            text = message.get("text")
            if text is None:
                frames.received_bytes += len(message.get("bytes") or b"")
            elif text.isascii():
                frames.received_bytes += len(text)
            else:
                frames.received_bytes += _utf8_size(text)
        else:
            self.on_receive(message)
        return message

    async def send(self, message: Message) -> None:
        """The app's ``send``: counted, then the server's."""
        # get(): the app's message may lack a type; the server, not we, refuses it.
        if message.get("type") == "websocket.send":
            frames = self.frames
            frames.sent += 1
            text = message.get("text")
            if text is None:
                frames.sent_bytes += len(message.get("bytes") or b"")
            elif text.isascii():
                frames.sent_bytes += len(text)
            else:
                frames.sent_bytes += _utf8_size(text)
        else:
            self.on_send(message)
        await self._send(message)

    def on_receive(self, message: Message) -> None:
        if message.get("type") == "websocket.disconnect":
            if self.state is _State.OPEN:
                code = message.get("code", 1005)
                self._close(
                    code,
                    label_values.SERVER
                    if code in label_values.SERVER_ONLY_CODES
                    else label_values.CLIENT,
                )
            elif self.state is _State.PENDING:
                # The client left before the app decided: never accepted.
                self._reject(label_values.CLIENT_GONE)

    def on_send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "websocket.accept":
            if self.state is _State.PENDING:
                self._open()
        elif kind == "websocket.close":
            if self.state is _State.OPEN:
                self._close(message.get("code", 1000), label_values.SERVER)
            elif self.state is _State.PENDING:
                self._reject(label_values.refusal_reason(message.get("code")))
        elif kind == "websocket.http.response.start" and self.state is _State.PENDING:
            self._reject(label_values.DENIED)

    def finish(self, ending: _Ending) -> None:
        if self.state is _State.OPEN:
            self._close(_CODE_WHEN_APP_ENDS[ending], label_values.SERVER)
        elif self.state is _State.PENDING:
            self._reject(_REASON_WHEN_APP_ENDS_PENDING[ending])

    # Each step below swallows its own errors: tracking never breaks a socket.

    def _open(self) -> None:
        self.state = _State.OPEN
        self._handshake_done()
        try:
            self.frames = self.tracker.frame_counts(self.socket_type)
        except Exception:
            self._tracking_error("frame")  # the socket is still counted, its frames not
        try:
            self.key = self.tracker.opened(self.socket_type, user_id=_user_id(self.scope))
        except Exception:
            self.state = _State.DONE
            self.frames = _UNCOUNTED
            self._tracking_error("open")

    def _close(self, code: object, initiator: str) -> None:
        self.state = _State.DONE
        self.frames = _UNCOUNTED
        try:
            self.tracker.closed(self.key, code=code, initiator=initiator)
        except Exception:
            self._tracking_error("close")

    def _reject(self, reason: str) -> None:
        self.state = _State.DONE
        if reason != label_values.CLIENT_GONE:  # nobody answered: no handshake to time
            self._handshake_done()
        try:
            self.tracker.rejected(self.socket_type, reason)
        except Exception:
            self._tracking_error("reject")

    def _handshake_done(self) -> None:
        try:
            self.tracker.handshake_done(self.socket_type, time.perf_counter() - self.started)
        except Exception:
            self._tracking_error("open")

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
    >>> from prometheus_client import CollectorRegistry
    >>> tracker = SocketTracker(CollectorRegistry())
    >>> app = TrackedSocket("call", WebsocketConsumer.as_asgi(), tracker=tracker)
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
        return routes_paths(self.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        seen = route_seen.get()
        started = mark_seen()
        if seen is not None:  # settled now: an outer watcher may step aside
            receive, send = seen.passed_through(receive, send)
        session = _Session(self.tracker, self.socket_type, scope, started, receive, send)
        ending = _Ending.RETURNED
        try:
            return await self.app(scope, session.receive, session.send)
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

    In a project's routes the tracker is the process default; tests inject one:

    >>> from django.urls import path
    >>> from channels.generic.websocket import WebsocketConsumer
    >>> from prometheus_client import CollectorRegistry
    >>> tracker = SocketTracker(CollectorRegistry())
    >>> route = path("ws/echo/", track("echo", WebsocketConsumer.as_asgi(), tracker=tracker))
    >>> tracker.types()
    ('echo',)
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
        started = mark_seen()
        tracker = self._tracker if self._tracker is not None else default_tracker()
        try:
            tracker.rejected(label_values.UNKNOWN_TYPE, label_values.NO_ROUTE)
            tracker.handshake_done(label_values.UNKNOWN_TYPE, time.perf_counter() - started)
        except Exception:
            logger.exception("socket tracking failed at stage reject for an unrouted socket")
            tracker.tracking_error("reject")
        await send({"type": "websocket.close", "code": 1008})


def unrouted(*, tracker: SocketTracker | None = None) -> UnroutedSocket:
    """Return the catch-all app that counts and denies unrouted sockets."""
    return UnroutedSocket(tracker=tracker)
