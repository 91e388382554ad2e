"""A whole WebSocket session through ``track()`` versus the same app unwrapped.

The session is what a short call looks like at the ASGI boundary: connect,
accept, 10 text frames from the client each answered by one frame from the
server, and a client close. The figure is the median, over 40 short interleaved rounds,
of each round's wrapped/unwrapped time ratio. The app is driven directly with in-memory
``receive``/``send`` callables: ``WebsocketCommunicator`` adds queues, tasks
and timeouts of its own that would dilute the wrapper's cost.

The target row uses a Channels ``AsyncWebsocketConsumer`` echo with the
project's in-memory channel layer, because a consumer is what production
wraps. Three rows are for information: Vidai's own ``SttConsumer`` (JSON, ack
per frame, group send); a raw ASGI echo app, which does nothing else per
frame and so is the worst case for the wrapper's relative cost; and what
``track_rejections()`` around the whole stack adds to that tracked raw echo.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass

from channels.generic.websocket import AsyncWebsocketConsumer

from metrics.asgi.rejections import track_rejections
from metrics.asgi.tracking import track
from metrics.asgi.types import ASGIApp, Message, Receive, Scope, Send

from . import Result, fresh_tracker, median

FRAMES = 10
TARGET = 1.03
ROUNDS = 40
ICE_CANDIDATE = '{"type": "ice-candidate", "candidate": "candidate:1 1 UDP 2122 10.0.0.1 5000"}'
SEGMENT = '{"type": "segment", "text": "the patient reports a mild headache", "final": false}'


class EchoConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Accept, echo every frame, and let the client close."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


async def raw_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """The smallest ASGI echo app: no framework work between frames."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text")})
        else:
            return


@dataclass(frozen=True)
class Case:
    """One app to run plain and wrapped, with its frames and batch size."""

    name: str
    app: ASGIApp
    payload: str
    sessions: int
    target: float | None


class _LoggedIn:
    """The user AuthMiddlewareStack would put in the scope: Vidai's consumers need one."""

    is_authenticated = True
    is_staff = False
    pk = 1


def websocket_scope(path: str = "/ws/bench/") -> Scope:
    """Return the scope of a logged-in user's WebSocket handshake at ``path``."""
    return {
        "user": _LoggedIn(),
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "url_route": {"args": (), "kwargs": {}},
    }


def events_for(payload: str) -> list[Message]:
    frames: list[Message] = [{"type": "websocket.receive", "text": payload}] * FRAMES
    return [
        {"type": "websocket.connect"},
        *frames,
        {"type": "websocket.disconnect", "code": 1000},
    ]


async def run_session(app: ASGIApp, events: list[Message]) -> int:
    """Drive one session through ``app``; return how many messages it sent."""
    pending: Iterator[Message] = iter(events)
    sent = 0

    async def receive() -> Message:
        for message in pending:
            return message
        # Past the close the app must not ask again; if it does, park it.
        await asyncio.Future()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        nonlocal sent
        sent += 1

    await app(websocket_scope(), receive, send)
    return sent


async def batch(app: ASGIApp, events: list[Message], sessions: int) -> float:
    """CPU seconds per session over ``sessions`` sequential sessions.

    Process CPU time (every thread, Channels' executor included) rather than
    wall time: a consumer session waits on thread hops, whose scheduling on a
    shared machine varies far more than the wrapper's cost.
    """
    gc.collect()
    start = time.process_time()
    for _ in range(sessions):
        await run_session(app, events)
    return (time.process_time() - start) / sessions


def _us(times: list[float]) -> str:
    return f"{median(times) * 1e6:.1f} us CPU/session (fastest {min(times) * 1e6:.1f})"


async def _measure(case: Case, wrapped: ASGIApp) -> Result:
    events = events_for(case.payload)
    # Both apps must do the same session: accept plus one answer per frame.
    for app in (case.app, wrapped):
        sent = await run_session(app, events)
        if sent != 1 + FRAMES:
            raise RuntimeError(f"{case.name}: session sent {sent} messages, not {1 + FRAMES}")
        await batch(app, events, case.sessions)  # warm-up
    plain_times: list[float] = []
    wrapped_times: list[float] = []
    ratios: list[float] = []
    for round_ in range(ROUNDS):
        # Short rounds, interleaved, alternating which goes first: each pair of
        # batches sees the same machine load, so the pair's ratio cancels it.
        order = (wrapped, case.app) if round_ % 2 else (case.app, wrapped)
        times = {app: await batch(app, events, case.sessions) for app in order}
        plain_times.append(times[case.app])
        wrapped_times.append(times[wrapped])
        ratios.append(times[wrapped] / times[case.app])
    added = median([w - p for w, p in zip(wrapped_times, plain_times, strict=True)])
    return Result(
        benchmark=case.name,
        measured=f"wrapped {_us(wrapped_times)}; +{added * 1e6:.1f} us/session",
        baseline=f"unwrapped {_us(plain_times)}",
        figure=median(ratios),
        unit="x",
        target=case.target,
    )


def run() -> list[Result]:
    """Measure the echo consumer session (target) and three more pairs (information)."""
    from consultation.consumers import SttConsumer

    tracker = fresh_tracker()
    cases = [
        Case(
            "1. session: echo consumer, wrapped/unwrapped",
            EchoConsumer.as_asgi(),
            ICE_CANDIDATE,
            50,
            TARGET,
        ),
        Case("1b. session: Vidai SttConsumer (info)", SttConsumer.as_asgi(), SEGMENT, 50, None),
        Case("1c. session: raw ASGI echo (info)", raw_echo, ICE_CANDIDATE, 1000, None),
    ]

    tracked_echo = track("call", raw_echo, tracker=tracker)
    outer = Case(
        "1d. session: track_rejections around tracked raw echo (info)",
        tracked_echo,
        ICE_CANDIDATE,
        1000,
        None,
    )
    pairs = [(case, track("call", case.app, tracker=tracker)) for case in cases]
    pairs.append((outer, track_rejections(tracked_echo, tracker=tracker)))

    async def main() -> list[Result]:
        return [await _measure(case, wrapped) for case, wrapped in pairs]

    results = asyncio.run(main())
    if len(tracker.live):
        raise RuntimeError("the sessions left sockets open in the tracker")
    return results
