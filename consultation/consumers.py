"""Vidai's WebSocket consumers: real messaging through the channel layer.

Nothing here counts sockets; ``consultation.routing`` wraps each consumer
with ``metrics.track``. Room ids and display names stay inside the app:
group names use a digest of the room, and logs never carry either.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Close codes the consumers send (application range 4000-4999).
CLOSE_BAD_MESSAGE = 4400
CLOSE_BAD_HANDSHAKE = 4403
# The code disconnect() gets when a consumer ends without a websocket.disconnect.
ABNORMAL_CLOSURE = 1006

ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SIGNAL_TYPES = frozenset({"offer", "answer", "ice-candidate", "hangup", "mute", "unmute"})
STT_ROOM_ROLES = frozenset({"doctor", "patient", "interpreter", "nurse", "observer"})
MAX_NAME_LENGTH = 64
MAX_SIGNAL_BYTES = 64 * 1024
MAX_TRANSCRIPT_CHARS = 4000
# Arrays and objects in a client frame: SDP and ICE need a few levels, never dozens.
MAX_NESTING = 16

SALES_GROUP = "stt-sales"
STT_ROOM_GROUP = "stt-room"


def room_group(room: str) -> str:
    """Group name for a call room: a digest, so the room id is never a channel name."""
    return "call-" + hashlib.sha256(room.encode("utf-8")).hexdigest()[:32]


class JsonConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """JSON consumer that answers bad frames with an error instead of crashing.

    Groups are joined with ``join`` and left with ``leave_groups``, so that a
    consumer leaves them however it ends, not only through ``disconnect``.
    """

    max_text_chars = MAX_SIGNAL_BYTES
    joined: frozenset[str] = frozenset()
    frame_types: frozenset[str] = frozenset()
    """The ``type`` values a client may send; any other frame gets an error reply."""
    default_frame_type: str | None = None
    """The type of a frame that names none; None: a frame must name its type."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Channels calls disconnect() only for a websocket.disconnect it
            # dispatches. A handler that raised first skips it: typically a
            # relay to a client that has just gone (uvicorn's send raises
            # ClientDisconnected). The dead channel would stay in its groups
            # and get a copy of every broadcast, kept by the layer until one
            # expires (60 s in memory) and a later call cleans it up.
            if self.joined:
                await self.disconnect(ABNORMAL_CLOSURE)
                await self.leave_groups()

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

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            await self.receive_bytes(bytes_data)
            return
        if text_data is None or len(text_data) > self.max_text_chars:
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):  # deep nesting exhausts the decoder's stack
            await self.send_error("invalid JSON")
            return
        if not isinstance(content, dict):
            await self.send_error("expected a JSON object")
            return
        problem = _unrelayable(content)
        if problem is not None:
            await self.send_error(problem)
            return
        kind = content.get("type", self.default_frame_type)
        if not isinstance(kind, str) or kind not in self.frame_types:
            await self.send_error("unknown message type")
            return
        await self.receive_json(content)

    async def receive_bytes(self, data: bytes) -> None:
        await self.send_error("binary frames are not accepted")

    async def send_error(self, error: str) -> None:
        """Answer a frame the consumer cannot use; the socket stays open."""
        await self.send_json({"type": "error", "error": error})


# What channels_redis (msgpack) can carry: integers within 64 bits, valid UTF-8.
_SMALLEST_INT = -(2**63)
_LARGEST_INT = 2**64 - 1


def _unrelayable(content: object) -> str | None:
    """Why decoded JSON cannot be relayed through any channel layer, or None.

    Too deep to copy or encode safely, integers msgpack cannot pack, numbers
    that are not finite (JSON has none: a peer's JSON.parse would fail), or text
    with lone surrogates (JSON's "\\ud800"), which is not UTF-8. Walked
    without recursion.
    """
    pending = [(content, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth > MAX_NESTING:
                return "message nested too deeply"
            pending.extend((key, depth + 1) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > MAX_NESTING:
                return "message nested too deeply"
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return "text is not valid Unicode"
        elif isinstance(item, int) and not _SMALLEST_INT <= item <= _LARGEST_INT:
            return "number out of range"
        elif isinstance(item, float) and not math.isfinite(item):
            # Python reads NaN, Infinity and 1e400; relayed, they are not JSON.
            return "number out of range"
    return None


class CallConsumer(JsonConsumer):
    """WebRTC signalling relay between the peers of one room."""

    group: str = ""
    frame_types = SIGNAL_TYPES

    async def connect(self) -> None:
        room = self.scope["url_route"]["kwargs"].get("room", "")
        if not ROOM_ID.fullmatch(room):
            await self.close()
            return
        self.group = room_group(room)
        await self.join(self.group)
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "call.signal", "signal": content, "sender": self.channel_name}
        )

    async def call_signal(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name:
            await self.send_json(event["signal"])

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()


class SttConsumer(JsonConsumer):
    """Speech-to-text stream: acks audio frames, relays transcript segments to sales."""

    frames = 0
    frame_types = frozenset({"segment"})

    async def connect(self) -> None:
        self.frames = 0
        await self.accept()

    async def receive_bytes(self, data: bytes) -> None:
        self.frames += 1
        await self.send_json({"type": "ack", "seq": self.frames, "bytes": len(data)})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        text = content.get("text")
        if not isinstance(text, str) or len(text) > MAX_TRANSCRIPT_CHARS:
            await self.send_error("segment text is missing or too long")
            return
        # The event's own keys last: nothing a client sends can set its type.
        event = {"text": text, "final": bool(content.get("final", False))}
        await self.channel_layer.group_send(SALES_GROUP, {**event, "type": "transcript.event"})
        self.frames += 1
        await self.send_json({"type": "ack", "seq": self.frames})


class SttRoomConsumer(JsonConsumer):
    """A participant in the transcript room, with a role from an allow-list.

    A bad role or name is accepted and closed at once with 4403, so that a
    browser, which cannot read a refused handshake's HTTP status, learns why.
    """

    query_params = ("role", "name")
    frame_types = frozenset({"segment"})
    default_frame_type = "segment"
    role = ""
    display_name = ""

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        role = (query.get("role") or [""])[0]
        name = (query.get("name") or [""])[0].strip()
        await self.accept()
        if role not in STT_ROOM_ROLES or not 0 < len(name) <= MAX_NAME_LENGTH:
            await self.close(code=CLOSE_BAD_HANDSHAKE)
            return
        self.role, self.display_name = role, name
        await self.join(STT_ROOM_GROUP)
        await self._announce("joined")

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        text = content.get("text")
        if not isinstance(text, str) or len(text) > MAX_TRANSCRIPT_CHARS:
            await self.send_error("expected {'text': ...}")
            return
        await self.channel_layer.group_send(
            STT_ROOM_GROUP,
            {
                "type": "room.event",
                "event": "segment",
                "role": self.role,
                "name": self.display_name,
                "text": text,
            },
        )

    async def room_event(self, event: dict[str, Any]) -> None:
        await self.send_json({key: value for key, value in event.items() if key != "type"})

    async def disconnect(self, code: int) -> None:
        # Leave first: the announcement is for the members who stay.
        if await self.leave_groups():
            await self._announce("left")

    async def _announce(self, event: str) -> None:
        await self.channel_layer.group_send(
            STT_ROOM_GROUP,
            {"type": "room.event", "event": event, "role": self.role, "name": self.display_name},
        )


class SttSalesConsumer(JsonConsumer):
    """Sales monitoring feed: every transcript segment from the stt streams."""

    frame_types = frozenset({"ping"})

    async def connect(self) -> None:
        await self.join(SALES_GROUP)
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "pong"})

    async def transcript_event(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "segment", "text": event["text"], "final": event.get("final", False)}
        )

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()


class SttAdminConsumer(JsonConsumer):
    """Staff-only admin feed; any other user's handshake is denied (HTTP 403)."""

    frame_types = frozenset({"ping"})

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close()
            return
        await self.join(SALES_GROUP)
        await self.accept()
        await self.send_json({"type": "welcome", "feed": "admin"})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "pong"})

    async def transcript_event(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "segment", "text": event["text"]})

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()
