"""The consumers' gate: session, route rule, socket cap, frame rate, and re-checks.

``GuardedConsumer`` refuses a handshake before accepting it, with the close
code that names why (``metrics.REFUSAL_CODES``): 4401 without a logged-in
user, 4429 past the user's socket cap, 4403 when the route's rule
(``authorize``) says no. Once open, a socket follows its session: it closes with
4401 when its session logs out (a broadcast to the user's group, so it
works across hosts on the Redis layer), when the user's records change so
that the rule no longer holds (staff flag removed, participant removed, user
deactivated), and at the latest at the next periodic re-check. A socket
sending frames faster than its rate is closed with 1008 (policy violation;
4008 on daphne, which refuses 1008 from an app).
"""

from __future__ import annotations

import asyncio
import logging
from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .access import (
    CLOSE_FORBIDDEN,
    CLOSE_OVER_LIMIT,
    CLOSE_UNAUTHENTICATED,
    session_digest,
    user_group,
)
from .conf import policy
from .limits import FrameRate, open_sockets

logger = logging.getLogger(__name__)
CLOSE_POLICY_VIOLATION = 1008


def _client_gone_errors() -> tuple[type[BaseException], ...]:
    """What the servers' send raises once the client has gone.

    uvicorn: ``ClientDisconnected``, an ``OSError``; daphne: autobahn's
    ``Disconnected`` (autobahn is there whenever daphne is).
    """
    try:
        from autobahn.exception import Disconnected
    except ImportError:
        return (OSError,)
    return (OSError, Disconnected)


CLIENT_GONE_ERRORS = _client_gone_errors()
PRIVATE_CLOSE_CODES = 4000


class GuardedConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Base of Vidai's consumers: refuses, re-checks and rate-limits (see module)."""

    joined: frozenset[str] = frozenset()
    user_id: object = None
    ending = False
    _claimed = False
    _client_gone = False
    _session_key: str | None = None
    _rate: FrameRate | None = None
    _rechecks: asyncio.Task[None] | None = None

    def authorize(self, user: Any) -> bool:
        """Whether ``user`` may hold this socket (runs in a thread: it may query)."""
        return True

    def admit(self, user: Any) -> bool:
        """``authorize``, plus what admitting records, in one trip to the database."""
        return self.authorize(user)

    def admitted_at_once(self, user: Any) -> bool:
        """Whether the rule admits ``user`` from what is in hand, with no query.

        Channels sends every consumer's database work to one thread; a
        handshake that needs none should not queue behind the others.
        """
        return False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_unless_gone(message: Any) -> None:
            # A relay or an answer can race a client leaving: the server raises
            # on sending to it, then delivers its websocket.disconnect, which
            # ends the consumer as any close does. Raising here would end it
            # as a server error, with a traceback in the server's log.
            if self._client_gone:
                return
            try:
                await send(message)
            except CLIENT_GONE_ERRORS:
                self._client_gone = True

        try:
            await super().__call__(scope, receive, send_unless_gone)
        finally:
            if self._rechecks is not None:
                self._rechecks.cancel()
            if self._claimed:
                self._claimed = False
                open_sockets.release(self.user_id)

    async def websocket_connect(self, message: Any) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # The cap first: it costs nothing, and a user past it never reaches the database.
        current = policy()
        if not open_sockets.claim(user.pk, current.sockets_per_user):
            await self.close(code=CLOSE_OVER_LIMIT)
            return
        self._claimed, self.user_id = True, user.pk
        # Not in Channels' one database thread, where every consumer's message
        # queues (it closes old connections before each): a busy server's
        # handshakes would wait for each other's seat lookups and audit writes.
        admit = database_sync_to_async(self.admit, thread_sensitive=False)
        if not (self.admitted_at_once(user) or await admit(user)):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        session = self.scope.get("session")
        self._session_key = getattr(session, "session_key", None) if session else None
        self._rate = FrameRate(current.message_burst, current.message_seconds)
        # Joined before accept: a logout from here on reaches this socket.
        await self.join(user_group(user.pk))
        self._rechecks = asyncio.create_task(self._recheck_every(current.recheck_seconds))
        await super().websocket_connect(message)

    async def websocket_receive(self, message: Any) -> None:
        if self.ending:
            return  # closing already: frames in flight are dropped
        if self._rate is not None and not self._rate.allow():
            await self.end(CLOSE_POLICY_VIOLATION)
            return
        await super().websocket_receive(message)

    async def end(self, code: int) -> None:
        """Close once with ``code``; later calls do nothing."""
        if self.ending:
            return
        self.ending = True
        try:
            await self.close(code=code)
        except Exception:
            if code >= PRIVATE_CLOSE_CODES:
                raise
            # daphne (autobahn) lets an app send only 1000 and 3000-4999; the
            # exporter counted the close by the code sent first, so the client
            # gets the same reason in the private range: 1008 -> 4008.
            await self.close(code=PRIVATE_CLOSE_CODES + code % 1000)

    async def join(self, group: str) -> None:
        """Add this consumer's channel to a group, remembering it for the way out."""
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined |= {group}

    async def leave_groups(self) -> bool:
        """Leave every group joined; return whether there was any. Idempotent."""
        joined, self.joined = self.joined, frozenset()
        for group in sorted(joined):
            await self.channel_layer.group_discard(group, self.channel_name)
        return bool(joined)

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()

    async def recheck(self) -> None:
        """Close with 4401 unless the session still holds this user and the rule allows."""
        if self.ending:
            return
        engine = import_module(settings.SESSION_ENGINE)
        user = await get_user({"session": engine.SessionStore(self._session_key)})
        allowed = user.is_authenticated and user.pk == self.user_id
        if allowed and not await database_sync_to_async(self.authorize)(user):
            allowed = False
        if not allowed:
            await self.end(CLOSE_UNAUTHENTICATED)

    async def session_ended(self, event: dict[str, Any]) -> None:
        """A session of this user logged out: this socket's, or another one's."""
        ended = event.get("session")
        if ended and ended == session_digest(self._session_key):
            await self.end(CLOSE_UNAUTHENTICATED)
        else:
            await self._recheck_quietly()

    async def access_changed(self, event: dict[str, Any]) -> None:
        """The user's records changed (staff flag, seats, password): check again."""
        await self._recheck_quietly()

    async def _recheck_every(self, seconds: float) -> None:
        while not self.ending:
            await asyncio.sleep(seconds)
            await self._recheck_quietly()

    async def _recheck_quietly(self) -> None:
        try:
            await self.recheck()
        except Exception as error:
            # The database, or a client gone mid-close: the next re-check tries
            # again. Only the error's class is logged: no ids, no names.
            logger.warning("socket re-check failed: %s", type(error).__name__)
