"""Pure ASGI wrappers that count WebSocket routes exactly once.

``track(type, app)`` wraps one route's app. The socket is counted open when
the app sends ``websocket.accept`` and closed exactly once: at the first close
frame either way, or when the app ends without one (it raised, was cancelled,
or returned). Per-connection state lives in one ``Connection`` made per
call, never on the wrapper.

Under ``track_rejections()`` the two wrappers share that one object: the
outer one made it to watch the handshake, and the route takes it over (no
second coroutine, no second pair of callables) by finding it in the scope
under ``CONNECTION_KEY``. A socket open for hours costs its worker that one
object, one bound ``receive`` and the outer wrapper's coroutine; with 10,000s
of sockets per worker, every object per socket is also work for each full
garbage collection.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Hashable
from typing import Final, Protocol

from asgiref.sync import markcoroutinefunction

from .. import label_values
from ..core.frames import FrameCounts
from ..core.tracker import SocketTracker, declare_type, tracker_or_default, valid_type
from .types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

__all__ = ["TrackedSocket", "UnroutedSocket", "track", "unrouted"]

# The scope key under which track_rejections() hands its Connection to the
# layers below (an internal protocol between the wrappers, not in __all__).
# A key rather than a context variable: a context variable costs three objects
# per socket for as long as it is open, and Channels' middleware and routers
# copy the scope with its keys.
CONNECTION_KEY = "vidai_metrics.connection"


def routes_paths(app: object) -> bool:
    """Whether ``app`` routes on the path (``_path_routing``), as a wrapper must show.

    Channels' URLRouter reads ``_path_routing`` to treat a route as a prefix
    for a nested router: a wrapped router must still look like one.
    """
    return getattr(app, "_path_routing", False) is True


class RefusalCounter(Protocol):
    """What counts a handshake refused before any tracked route took it."""

    def count_refusal(self, scope: Scope, reason: str, started: float) -> None:
        """Count the refusal of the handshake ``scope`` describes, received at ``started``."""


class Stage(enum.Enum):
    """Where a connection is, for the wrappers."""

    WATCHING = enum.auto()
    """track_rejections() waits for a route to take the handshake."""
    PENDING = enum.auto()
    """A tracked route took it; the app has not answered."""
    OPEN = enum.auto()
    DONE = enum.auto()
    """Counted, or left to another layer to count."""


# What the hot path compares with: on Python 3.11 reading a member off an Enum
# class goes through EnumType.__getattr__'s slot, several times per socket and
# once per control message; a module constant is a plain global read.
WATCHING: Final = Stage.WATCHING
PENDING: Final = Stage.PENDING
OPEN: Final = Stage.OPEN
DONE: Final = Stage.DONE


class Ending(enum.Enum):
    """How the app's coroutine ended."""

    RETURNED = enum.auto()
    FAILED = enum.auto()
    CANCELLED = enum.auto()


RETURNED: Final = Ending.RETURNED
FAILED: Final = Ending.FAILED
CANCELLED: Final = Ending.CANCELLED

# The close code a socket gets when the app ends without sending a close
# frame: what uvicorn and daphne then send, or the nearest in the taxonomy.
_CODE_WHEN_APP_ENDS = {
    Ending.RETURNED: 1000,
    Ending.FAILED: 1011,
    Ending.CANCELLED: 1001,
}
# A handshake the app never decided: returning is a refusal (the server sends
# 403); cancelled, the client left (daphne's close timeout) or the server is
# stopping, neither of which is the app failing.
_REASON_WHEN_APP_ENDS_PENDING: dict[Ending, str] = {
    Ending.RETURNED: label_values.DENIED,
    Ending.FAILED: label_values.ERROR,
    Ending.CANCELLED: label_values.CLIENT_GONE,
}


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


# Where frames go while no open socket is counted: nowhere read.
_UNCOUNTED = FrameCounts()
# The scope an ended connection keeps: none (it would hold the scope and its
# CONNECTION_KEY in a reference cycle).
_NO_SCOPE: Scope = {}


def _user_id(scope: Scope) -> str | None:
    user = scope.get("user")
    try:
        if user is not None and user.is_authenticated:
            return str(user.pk)
    except Exception:  # an unresolved lazy user: the socket is still counted
        return None
    return None


class Connection:
    """One socket's tracking state, made per connection by the outermost wrapper.

    Its ``receive`` method and the object itself (as ``send``) are the
    callables the app gets. While ``WATCHING`` it counts a refusal through
    its ``watcher``; once a tracked route ``take``s it, it counts the socket.
    """

    # Slots, and methods rather than closures: 10,000s live per worker.
    __slots__ = (
        "_receive",
        "_send",
        "frames",
        "key",
        "scope",
        "socket_type",
        "stage",
        "started",
        "tracker",
        "watcher",
    )

    def __init__(
        self,
        scope: Scope,
        started: float,
        receive: Receive,
        send: Send,
        *,
        watcher: RefusalCounter | None = None,
    ) -> None:
        self.scope = scope
        self.started = started
        self._receive = receive
        self._send = send
        # Watched until a route takes it, or (no watcher) already taken.
        self.stage = PENDING if watcher is None else WATCHING
        self.watcher = watcher
        self.tracker: SocketTracker | None = None
        self.socket_type = label_values.UNKNOWN_TYPE
        self.key: Hashable = None
        # The type's counts while the socket is open, added to on every frame
        # and read at every scrape; before and after, counts nobody reads, so
        # the frame path needs no look at the stage.
        self.frames = _UNCOUNTED

    def take(self, tracker: SocketTracker, socket_type: str, scope: Scope) -> None:
        """A tracked route takes the handshake: count it as ``socket_type`` from here."""
        self.tracker = tracker
        self.socket_type = socket_type
        self.scope = scope  # the route's: the user is there
        self.stage = PENDING

    def settle(self) -> None:
        """Another layer counts this handshake: count nothing more here."""
        self.stage = DONE

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
        elif self.stage is not DONE:
            self._on_receive(message)
        return message

    async def __call__(self, message: Message) -> None:
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
        elif self.stage is not DONE:
            self._on_send(message)
        await self._send(message)

    def _on_receive(self, message: Message) -> None:
        if message.get("type") != "websocket.disconnect":
            return
        if self.stage is OPEN:
            code = message.get("code", 1005)
            self._close(
                code,
                label_values.SERVER
                if code in label_values.SERVER_ONLY_CODES
                else label_values.CLIENT,
            )
        else:  # the client left before anything decided: never accepted
            self._refuse(label_values.CLIENT_GONE)

    def _on_send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "websocket.accept":
            if self.stage is PENDING:
                self._open()
            elif self.stage is WATCHING:
                self.stage = DONE  # accepted by an untracked app: W002's business
        elif kind == "websocket.close":
            if self.stage is OPEN:
                self._close(message.get("code", 1000), label_values.SERVER)
            else:
                self._refuse(label_values.refusal_reason(message.get("code")))
        elif kind == "websocket.http.response.start" and self.stage is not OPEN:
            self._refuse(label_values.DENIED)

    def finish(self, ending: Ending) -> None:
        """The app's coroutine ended: count what it left uncounted."""
        if self.stage is OPEN:
            self._close(_CODE_WHEN_APP_ENDS[ending], label_values.SERVER)
        elif self.stage is not DONE:
            self._refuse(_REASON_WHEN_APP_ENDS_PENDING[ending])
        self.scope = _NO_SCOPE

    # Each step below swallows its own errors: tracking never breaks a socket.

    def _open(self) -> None:
        assert self.tracker is not None  # PENDING: taken by a route
        self.stage = OPEN
        self._handshake_done()
        try:
            self.frames = self.tracker.frame_counts(self.socket_type)
        except Exception:
            self._tracking_error("frame")  # the socket is still counted, its frames not
        try:
            self.key = self.tracker.opened(self.socket_type, user_id=_user_id(self.scope))
        except Exception:
            self.stage = DONE
            self.frames = _UNCOUNTED
            self._tracking_error("open")

    def _close(self, code: object, initiator: str) -> None:
        assert self.tracker is not None  # OPEN: taken by a route
        self.stage = DONE
        self.frames = _UNCOUNTED
        try:
            self.tracker.closed(self.key, code=code, initiator=initiator)
        except Exception:
            self._tracking_error("close")

    def _refuse(self, reason: str) -> None:
        watching = self.stage is WATCHING
        self.stage = DONE
        if watching:
            assert self.watcher is not None
            self.watcher.count_refusal(self.scope, reason, self.started)
            return
        assert self.tracker is not None  # PENDING: taken by a route
        if reason != label_values.CLIENT_GONE:  # nobody answered: no handshake to time
            self._handshake_done()
        try:
            self.tracker.rejected(self.socket_type, reason)
        except Exception:
            self._tracking_error("reject")

    def _handshake_done(self) -> None:
        assert self.tracker is not None
        try:
            self.tracker.handshake_done(self.socket_type, time.perf_counter() - self.started)
        except Exception:
            self._tracking_error("open")

    def _tracking_error(self, stage: str) -> None:
        assert self.tracker is not None
        # The traceback names our code only; the scope (path, query) is never logged.
        logger.exception("socket tracking failed at stage %s for type %s", stage, self.socket_type)
        try:
            self.tracker.tracking_error(stage)
        except Exception:
            logger.exception("counting a tracking error failed")


def outer_connection(scope: Scope) -> Connection | None:
    """The connection an enclosing ``track_rejections`` watches, if any."""
    found = scope.get(CONNECTION_KEY)
    return found if isinstance(found, Connection) else None


async def run_counted(
    app: ASGIApp,
    scope: Scope,
    connection: Connection,
    *,
    outer: Connection | None = None,
) -> object:
    """Run ``app`` on the connection's callables; count what its ending left.

    The one coroutine a socket carries for its wrappers. A watching
    connection (``track_rejections``) is in ``scope`` under
    ``CONNECTION_KEY``: at the end the key goes back to ``outer`` (or away),
    so nothing is left in a cycle.
    """
    keyed = connection.watcher is not None
    ending = RETURNED
    try:
        return await app(scope, connection.receive, connection)
    except asyncio.CancelledError:
        ending = CANCELLED  # the client left, or the server stops
        raise
    except BaseException:
        ending = FAILED
        raise
    finally:
        connection.finish(ending)
        if keyed:
            if outer is None:
                scope.pop(CONNECTION_KEY, None)
            else:
                scope[CONNECTION_KEY] = outer


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
        return tracker_or_default(self._tracker)

    @property
    def _path_routing(self) -> bool:
        return routes_paths(self.app)

    # Not a coroutine function: under track_rejections() the route hands the
    # app's own coroutine up, and the socket carries no coroutine of this
    # wrapper (marked, so that servers and asgiref still see an ASGI 3 app).
    @markcoroutinefunction
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[object]:
        if scope["type"] == "websocket":
            outer = outer_connection(scope)
            if outer is None or outer.stage is not WATCHING:
                return self._counted(scope, receive, send, outer)
            # track_rejections() already watches this socket's messages and
            # the app's ending: its connection counts the socket from here.
            outer.take(self.tracker, self.socket_type, scope)
        return self.app(scope, receive, send)

    def _counted(
        self, scope: Scope, receive: Receive, send: Send, outer: Connection | None
    ) -> Awaitable[object]:
        """Count the socket here: alone, or below another tracked route."""
        started = time.perf_counter() if outer is None else outer.started  # the outermost's
        connection = Connection(scope, started, receive, send)
        connection.take(self.tracker, self.socket_type, scope)
        return run_counted(self.app, scope, connection)


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
        outer = outer_connection(scope)
        if outer is None:
            started = time.perf_counter()
        else:  # counted here, timed from the outermost layer
            started = outer.started
            if outer.stage is WATCHING:
                outer.settle()
        tracker = tracker_or_default(self._tracker)
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
