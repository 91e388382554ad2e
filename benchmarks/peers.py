"""``track()`` beside the wrappers other projects write, in one run, on one raw echo app.

Four apps run the same session (connect, 10 text frames each answered, close)
in interleaved rounds, the order rotating every round, so every round's
figures see the same machine load:

- the bare raw ASGI echo (the baseline);
- a naive counter: a plain dict of integers counting opens, what the
  smallest Channels exporters do; it counts nothing else;
- a minimal prometheus_client wrapper, as careful hand-written exporters are:
  cached label children, a gauge inc/dec around the session and a counter
  inc per frame each way;
- ``track()``, which also counts close reasons, initiators, lifetimes,
  bytes, ages, rejections and keeps exactly-once.

Each wrapper's added cost is the median over rounds of (its time - the bare
app's time in the same round). The target: ``track()`` adds no more than the
minimal prometheus_client wrapper.
"""

from __future__ import annotations

import asyncio
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge

from metrics.asgi.tracking import track
from metrics.asgi.types import ASGIApp, Message, Receive, Scope, Send

from . import Result, fresh_tracker, median
from .session import ICE_CANDIDATE, batch, events_for, raw_echo, run_session

ROUNDS = 60
SESSIONS = 2_000
TARGET = 1.0


class NaiveOpenCounter:
    """Counts accepted sockets per type in a dict; nothing on frames or closes."""

    def __init__(self, app: ASGIApp, socket_type: str) -> None:
        self.app = app
        self.socket_type = socket_type
        self.opened: Tally[str] = Tally()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_send(message: Message) -> None:
            if message["type"] == "websocket.accept":
                self.opened[self.socket_type] += 1
            await send(message)

        await self.app(scope, receive, counted_send)


class MinimalPrometheusWrapper:
    """Open gauge and per-frame counters on cached prometheus_client children."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, socket_type: str) -> None:
        self.app = app
        self.open = Gauge("peer_open", "Open sockets.", ["type"], registry=registry).labels(
            type=socket_type
        )
        frames = Counter("peer_frames", "Frames.", ["type", "direction"], registry=registry)
        self.received = frames.labels(type=socket_type, direction="received")
        self.sent = frames.labels(type=socket_type, direction="sent")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = False

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                self.received.inc()
            return message

        async def counted_send(message: Message) -> None:
            nonlocal accepted
            kind = message["type"]
            if kind == "websocket.send":
                self.sent.inc()
            elif kind == "websocket.accept":
                accepted = True
                self.open.inc()
            await send(message)

        try:
            await self.app(scope, counted_receive, counted_send)
        finally:
            if accepted:
                self.open.dec()


def run() -> list[Result]:
    """Added CPU per session of each wrapper over the bare app, side by side."""
    tracker = fresh_tracker()
    apps: dict[str, ASGIApp] = {
        "bare": raw_echo,
        "naive": NaiveOpenCounter(raw_echo, "call"),
        "minimal": MinimalPrometheusWrapper(raw_echo, CollectorRegistry(), "call"),
        "track": track("call", raw_echo, tracker=tracker),
    }
    events = events_for(ICE_CANDIDATE)

    async def main() -> dict[str, list[float]]:
        for name, app in apps.items():
            if await run_session(app, events) != 11:
                raise RuntimeError(f"{name}: the session did not answer every frame")
            await batch(app, events, SESSIONS)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in apps}
        names = list(apps)
        for round_ in range(ROUNDS):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(await batch(apps[name], events, SESSIONS))
        return times

    times = asyncio.run(main())
    if len(tracker.live):
        raise RuntimeError("the sessions left sockets open in the tracker")

    def added(name: str) -> float:
        return median([w - b for w, b in zip(times[name], times["bare"], strict=True)])

    bare_us = median(times["bare"]) * 1e6
    if added("minimal") <= 0:
        raise RuntimeError("the minimal wrapper measured no cost: the machine is too noisy")
    track_us, minimal_us, naive_us = (added(n) * 1e6 for n in ("track", "minimal", "naive"))
    return [
        Result(
            benchmark="7. added CPU per raw-echo session: track() / minimal prometheus_client",
            measured=f"track() +{track_us:.1f} us/session",
            baseline=f"minimal wrapper +{minimal_us:.1f} us/session (bare {bare_us:.1f} us)",
            figure=track_us / minimal_us,
            unit="x",
            target=TARGET,
        ),
        Result(
            benchmark="7b. added CPU per raw-echo session: naive open counter (info)",
            measured=f"+{naive_us:.1f} us/session (counts opens only)",
            baseline=f"bare {bare_us:.1f} us/session",
            figure=naive_us,
            unit="us",
            target=None,
        ),
    ]
