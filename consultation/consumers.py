"""Vidai's WebSocket consumers: real messaging through the channel layer.

Nothing here counts sockets; ``consultation.routing`` wraps each consumer
with ``metrics.track``. Who may connect is ``consultation.guard``'s and
``consultation.access``'s: every socket belongs to a logged-in user, a
consultation's rooms to its participants, the feeds to staff. Rooms are per
consultation; group names are digests of its id, and neither ids nor display
names ever reach a log line.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs

from .access import Seat, consultation_id, group_for, may_read_feeds, record_join, seat_of
from .guard import GuardedConsumer

# Close code for a text frame over the size limit (application range 4000-4999).
CLOSE_BAD_MESSAGE = 4400
# The code disconnect() gets when a consumer ends without a websocket.disconnect.
ABNORMAL_CLOSURE = 1006

SIGNAL_TYPES = frozenset({"offer", "answer", "ice-candidate", "hangup", "mute", "unmute"})
MAX_SIGNAL_BYTES = 64 * 1024
MAX_TRANSCRIPT_CHARS = 4000
# Arrays and objects in a client frame: SDP and ICE need a few levels, never dozens.
MAX_NESTING = 16

SALES_GROUP = "stt-sales"


def query_value(scope: dict[str, Any], name: str) -> str | None:
    """The first value of a query parameter, or None."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get(name)
    return values[0] if values else None


class JsonConsumer(GuardedConsumer):
    """JSON consumer that answers bad frames with an error instead of crashing.

    Groups are joined with ``join`` and left with ``leave_groups``, so that a
    consumer leaves them however it ends, not only through ``disconnect``.
    """

    max_text_chars = MAX_SIGNAL_BYTES
    frame_types: frozenset[str] = frozenset()
    """The ``type`` values a client may send; any other frame gets an error reply."""
    default_frame_type: str | None = None
    """The type of a frame that names none; None: a frame must name its type."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Channels calls disconnect() only for a websocket.disconnect it
            # dispatches. A handler that raised first skips it (a send to a
            # client that has gone no longer raises: GuardedConsumer.__call__).
            # The dead channel would stay in its groups and get a copy of
            # every broadcast, kept by the layer until one expires (60 s in
            # memory) and a later call cleans it up.
            if self.joined:
                await self.disconnect(ABNORMAL_CLOSURE)
                await self.leave_groups()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            await self.receive_bytes(bytes_data)
            return
        if text_data is None or len(text_data) > self.max_text_chars:
            await self.end(CLOSE_BAD_MESSAGE)
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


class SeatedConsumer(JsonConsumer):
    """A consumer of one consultation's room: only its participants get in.

    ``authorize`` finds the user's seat (role and display name from the
    server's record); admitting adds the join to the audit trail (in the same
    trip to the database); ``seated`` joins the room's group and accepts.
    """

    room_kind = ""
    seat: Seat | None = None
    group = ""

    def consultation_ref(self) -> str | None:
        """Where this route carries the consultation id."""
        return query_value(self.scope, "consultation")

    def authorize(self, user: Any) -> bool:
        consultation = consultation_id(self.consultation_ref())
        seat = seat_of(user, consultation) if consultation else None
        # The seat the socket was admitted with stays its own; a re-check only confirms.
        if self.seat is None:
            self.seat = seat
        return seat is not None

    def admit(self, user: Any) -> bool:
        if not self.authorize(user):
            return False
        if self.seat is not None:
            record_join(user, self.seat, self.room_kind)
        return True

    async def seated(self) -> Seat:
        seat = self.seat
        assert seat is not None  # authorize() let the handshake through
        self.group = group_for(self.room_kind, seat.consultation_id)
        await self.join(self.group)
        await self.accept()
        return seat


class CallConsumer(SeatedConsumer):
    """WebRTC signalling relay between the participants of one consultation."""

    room_kind = "call"
    frame_types = SIGNAL_TYPES

    def consultation_ref(self) -> str | None:
        room: str | None = self.scope["url_route"]["kwargs"].get("room")
        return room

    async def connect(self) -> None:
        await self.seated()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "call.signal", "signal": content, "sender": self.channel_name}
        )

    async def call_signal(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name:
            await self.send_json(event["signal"])


class SttConsumer(SeatedConsumer):
    """Speech-to-text stream: acks audio frames, relays transcript segments to the feeds.

    Any logged-in user may stream; segments reach the feeds only from a stream
    bound to a consultation the user takes part in (``?consultation=<id>``).
    """

    room_kind = "stt"
    frames = 0
    frame_types = frozenset({"segment"})

    def authorize(self, user: Any) -> bool:
        return self.consultation_ref() is None or super().authorize(user)

    def admitted_at_once(self, user: Any) -> bool:
        return self.consultation_ref() is None

    async def connect(self) -> None:
        self.frames = 0
        if self.seat is None:
            await self.accept()
        else:
            await self.seated()

    async def receive_bytes(self, data: bytes) -> None:
        self.frames += 1
        await self.send_json({"type": "ack", "seq": self.frames, "bytes": len(data)})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        text = content.get("text")
        if not isinstance(text, str) or len(text) > MAX_TRANSCRIPT_CHARS:
            await self.send_error("segment text is missing or too long")
            return
        if self.seat is None:
            await self.send_error("segments need a consultation: connect with ?consultation=<id>")
            return
        # The event's own keys last: nothing a client sends can set its type.
        event = {"text": text, "final": bool(content.get("final", False))}
        await self.channel_layer.group_send(SALES_GROUP, {**event, "type": "transcript.event"})
        self.frames += 1
        await self.send_json({"type": "ack", "seq": self.frames})


class SttRoomConsumer(SeatedConsumer):
    """A participant in a consultation's transcript room.

    Role and display name are the participant's record; ``?role=`` and
    ``?name=`` in the query (the old form) are ignored, so nobody can claim
    to be the doctor.
    """

    room_kind = "stt_room"
    query_params = ("consultation",)
    frame_types = frozenset({"segment"})
    default_frame_type = "segment"

    async def connect(self) -> None:
        await self.seated()
        await self._announce("joined")

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        text = content.get("text")
        if not isinstance(text, str) or len(text) > MAX_TRANSCRIPT_CHARS:
            await self.send_error("expected {'text': ...}")
            return
        await self._send_event("segment", text=text)

    async def room_event(self, event: dict[str, Any]) -> None:
        await self.send_json({key: value for key, value in event.items() if key != "type"})

    async def disconnect(self, code: int) -> None:
        # Leave first: the announcement is for the members who stay.
        if await self.leave_groups() and self.group:
            await self._announce("left")

    async def _announce(self, event: str) -> None:
        await self._send_event(event)

    async def _send_event(self, event: str, **extra: str) -> None:
        seat = self.seat
        assert seat is not None
        await self.channel_layer.group_send(
            self.group,
            {"type": "room.event", "event": event, "role": seat.role,
             "name": seat.display_name, **extra},
        )  # fmt: skip


class SttSalesConsumer(JsonConsumer):
    """Sales monitoring feed: every transcript segment from the stt streams (staff)."""

    frame_types = frozenset({"ping"})

    def authorize(self, user: Any) -> bool:
        return may_read_feeds(user)

    def admitted_at_once(self, user: Any) -> bool:
        return bool(user.is_active and user.is_staff)  # the permission needs a query

    async def connect(self) -> None:
        await self.join(SALES_GROUP)
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "pong"})

    async def transcript_event(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "segment", "text": event["text"], "final": event.get("final", False)}
        )


class SttAdminConsumer(JsonConsumer):
    """Staff admin feed: the transcript segments, after a welcome."""

    frame_types = frozenset({"ping"})

    def authorize(self, user: Any) -> bool:
        return may_read_feeds(user)

    def admitted_at_once(self, user: Any) -> bool:
        return bool(user.is_active and user.is_staff)  # the permission needs a query

    async def connect(self) -> None:
        await self.join(SALES_GROUP)
        await self.accept()
        await self.send_json({"type": "welcome", "feed": "admin"})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "pong"})

    async def transcript_event(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "segment", "text": event["text"]})
