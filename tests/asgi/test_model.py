"""Model-checked tracking: random interleavings through the real ASGI wrapper.

Each simulated process has its own tracker and registry. Sockets are real
``track()`` calls running as asyncio tasks around a scripted ASGI app; the
state machine accepts, denies, sends frames both ways, closes from either side,
drops, raises and cancels them in any order, and after every step compares
every count with a plain model.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)
from prometheus_client import CollectorRegistry

from metrics import label_values, track
from metrics.core.tracker import SocketTracker

from ..routing import TYPES

PROCESSES = 3
CLOSE_CODES = st.sampled_from([1000, 1001, 1002, 1005, 1006, 1008, 1011, 1012, 3000, 4403, 2500])


class AppFailure(Exception):
    """What the scripted app raises when told to."""


@dataclass
class Socket:
    """One simulated socket: its ASGI queues, task and what the model expects."""

    process: int
    type: str
    inbox: asyncio.Queue[dict] = field(default_factory=asyncio.Queue)
    orders: asyncio.Queue[tuple] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    state: str = "pending"  # pending, open, done
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0


async def scripted_app(scope, receive, send, orders: asyncio.Queue) -> None:
    """An ASGI app that does what the test orders, one order at a time."""
    assert (await receive())["type"] == "websocket.connect"
    while True:
        order = await orders.get()
        kind = order[0]
        if kind == "send":
            await send(order[1])
        elif kind == "receive":
            await receive()
        elif kind == "raise":
            raise AppFailure
        elif kind == "return":
            return


@dataclass
class Model:
    opened: Counter = field(default_factory=Counter)
    closed: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)


class TrackingMachine(RuleBasedStateMachine):
    sockets = Bundle("sockets")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.registries = [CollectorRegistry() for _ in range(PROCESSES)]
        self.trackers = [SocketTracker(r, types=TYPES) for r in self.registries]
        self.model = Model()
        self.all_sockets: list[Socket] = []
        self._samples: list[dict[tuple[str, frozenset], float]] = []

    def teardown(self) -> None:
        for sock in self.all_sockets:
            if sock.task is not None and not sock.task.done():
                sock.task.cancel()
        self.settle()
        self.loop.close()

    def settle(self) -> None:
        for _ in range(5):
            self.loop.run_until_complete(asyncio.sleep(0))

    def order(self, sock: Socket, *order: object) -> None:
        sock.orders.put_nowait(order)
        self.settle()

    # Rules -----------------------------------------------------------------

    @rule(target=sockets, process=st.integers(0, PROCESSES - 1), socket_type=st.sampled_from(TYPES))
    def connect(self, process: int, socket_type: str) -> Socket:
        sock = Socket(process, socket_type)
        app = track(
            socket_type,
            lambda scope, receive, send: scripted_app(scope, receive, send, sock.orders),
            tracker=self.trackers[process],
        )

        async def receive() -> dict:
            return await sock.inbox.get()

        async def send(message: dict) -> None:
            return None

        sock.inbox.put_nowait({"type": "websocket.connect"})
        sock.task = self.loop.create_task(app({"type": "websocket", "path": "/"}, receive, send))
        self.all_sockets.append(sock)
        self.settle()
        return sock

    @rule(sock=sockets)
    def accept(self, sock: Socket) -> None:
        if sock.state == "pending":
            self.order(sock, "send", {"type": "websocket.accept"})
            sock.state = "open"
            self.model.opened[(sock.process, sock.type)] += 1

    @rule(sock=consumes(sockets), code=st.sampled_from([1000, *label_values.REFUSAL_CODES]))
    def deny(self, sock: Socket, code: int) -> None:
        if sock.state == "pending":
            self.order(sock, "send", {"type": "websocket.close", "code": code})
            self.order(sock, "return")
            self.reject(sock, label_values.refusal_reason(code))

    @rule(sock=sockets, size=st.integers(0, 70_000), text=st.booleans())
    def client_frame(self, sock: Socket, size: int, text: bool) -> None:
        if sock.state == "open":
            payload = {"text": "é" * (size // 2)} if text else {"bytes": b"\0" * size}
            sock.inbox.put_nowait({"type": "websocket.receive", **payload})
            self.order(sock, "receive")
            sock.frames_in += 1
            sock.bytes_in += (size // 2) * 2 if text else size

    @rule(sock=sockets, size=st.integers(0, 5_000))
    def server_frame(self, sock: Socket, size: int) -> None:
        if sock.state == "open":
            self.order(sock, "send", {"type": "websocket.send", "bytes": b"x" * size})
            sock.frames_out += 1
            sock.bytes_out += size

    @rule(sock=consumes(sockets), code=CLOSE_CODES, abrupt=st.booleans())
    def client_leaves(self, sock: Socket, code: int, abrupt: bool) -> None:
        sent_code = 1006 if abrupt else code
        sock.inbox.put_nowait({"type": "websocket.disconnect", "code": sent_code})
        self.order(sock, "receive")
        if sock.state == "open":
            # A disconnect with a code only a server sends (1012-1014) is the server's.
            server_only = sent_code in label_values.SERVER_ONLY_CODES
            self.close(sock, sent_code, label_values.SERVER if server_only else label_values.CLIENT)
        elif sock.state == "pending":
            self.reject(sock, label_values.CLIENT_GONE)
        self.order(sock, "return")

    @rule(sock=consumes(sockets), code=CLOSE_CODES)
    def server_closes(self, sock: Socket, code: int) -> None:
        if sock.state == "open":
            self.order(sock, "send", {"type": "websocket.close", "code": code})
            self.close(sock, code, label_values.SERVER)
        self.order(sock, "return")
        if sock.state == "pending":  # returned without accepting
            self.reject(sock, label_values.DENIED)

    @rule(sock=consumes(sockets))
    def app_raises(self, sock: Socket) -> None:
        assert sock.task is not None
        if sock.task.done():  # already ended by an earlier rule
            return
        self.order(sock, "raise")
        assert isinstance(sock.task.exception(), AppFailure)  # raised through the wrapper
        if sock.state == "open":
            self.close(sock, 1011, label_values.SERVER)
        elif sock.state == "pending":
            self.reject(sock, label_values.ERROR)

    @rule(sock=consumes(sockets))
    def cancelled(self, sock: Socket) -> None:
        assert sock.task is not None
        sock.task.cancel()
        self.settle()
        if sock.state == "open":
            self.close(sock, 1001, label_values.SERVER)
        elif sock.state == "pending":
            self.reject(sock, label_values.CLIENT_GONE)

    # Model updates ---------------------------------------------------------

    def close(self, sock: Socket, code: int, initiator: str) -> None:
        reason = label_values.close_reason(code)
        self.model.closed[(sock.process, sock.type, reason, initiator)] += 1
        sock.state = "done"

    def reject(self, sock: Socket, reason: str) -> None:
        self.model.rejected[(sock.process, sock.type, reason)] += 1
        sock.state = "done"

    # Invariants ------------------------------------------------------------

    def samples(self) -> list[dict[tuple[str, frozenset], float]]:
        """Every sample of every process, collected once per check."""
        return [
            {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in registry.collect()
                for sample in family.samples
            }
            for registry in self.registries
        ]

    def sample(self, process: int, name: str, **labels: str) -> float:
        return self._samples[process].get((name, frozenset(labels.items())), 0.0)

    @invariant()
    def counts_equal_the_model(self) -> None:
        self._samples = self.samples()
        for process, socket_type in itertools.product(range(PROCESSES), TYPES):
            open_now = sum(
                1
                for s in self.all_sockets
                if (s.process, s.type, s.state) == (process, socket_type, "open")
            )
            gauge = self.sample(process, "vidai_websocket_connections", type=socket_type)
            opened = self.sample(process, "vidai_websocket_connections_opened_total",
                                 type=socket_type)  # fmt: skip
            assert gauge == open_now >= 0
            assert opened == self.model.opened[(process, socket_type)]
            closed = 0.0
            for reason, initiator in itertools.product(
                label_values.CLOSE_REASONS, label_values.INITIATORS
            ):
                value = self.sample(
                    process, "vidai_websocket_connections_closed_total",
                    type=socket_type, reason=reason, initiator=initiator,
                )  # fmt: skip
                assert value == self.model.closed[(process, socket_type, reason, initiator)]
                closed += value
            assert opened - closed == gauge
            for reason in label_values.REJECT_REASONS:
                value = self.sample(
                    process, "vidai_websocket_connections_rejected_total",
                    type=socket_type, reason=reason,
                )  # fmt: skip
                assert value == self.model.rejected[(process, socket_type, reason)]

    @invariant()
    def frames_are_counted_by_the_time_a_socket_is_done(self) -> None:
        self._samples = self.samples()
        for process, socket_type in itertools.product(range(PROCESSES), TYPES):
            mine = [s for s in self.all_sockets if (s.process, s.type) == (process, socket_type)]
            done = [s for s in mine if s.state == "done"]
            for direction, frames, size in (
                ("received", "frames_in", "bytes_in"),
                ("sent", "frames_out", "bytes_out"),
            ):
                labels = {"type": socket_type, "direction": direction}
                counted = self.sample(process, "vidai_websocket_messages_total", **labels)
                counted_bytes = self.sample(process, "vidai_websocket_message_bytes_total",
                                            **labels)  # fmt: skip
                # Open sockets push frames in batches; done ones have pushed all.
                assert sum(getattr(s, frames) for s in done) <= counted
                assert counted <= sum(getattr(s, frames) for s in mine)
                assert sum(getattr(s, size) for s in done) <= counted_bytes
                assert counted_bytes <= sum(getattr(s, size) for s in mine)

    @invariant()
    def labels_stay_within_the_contract(self) -> None:
        allowed = {
            "type": {*TYPES, label_values.UNKNOWN_TYPE},
            "reason": set(label_values.CLOSE_REASONS) | set(label_values.REJECT_REASONS),
            "initiator": set(label_values.INITIATORS),
            "direction": set(label_values.DIRECTIONS),
            "stage": {"open", "frame", "close", "reject"},
            "server": set(label_values.SERVER_NAMES),
        }
        self._samples = self.samples()
        for process_samples in self._samples:
            for _, labels in process_samples:
                for label, value in labels:
                    if label != "le":
                        assert value in allowed[label], (label, value)
        assert all(
            self.sample(p, "vidai_websocket_tracking_errors_total", stage=stage) == 0
            for p in range(PROCESSES)
            for stage in allowed["stage"]
        )

    @precondition(lambda self: any(s.state != "done" for s in self.all_sockets))
    @rule()
    def nothing_leaks_when_everything_is_cancelled(self) -> None:
        """Kill every remaining socket at once, as a dying worker would."""
        for sock in self.all_sockets:
            if sock.state != "done" and sock.task is not None:
                sock.task.cancel()
        self.settle()
        for sock in self.all_sockets:
            if sock.state == "open":
                self.close(sock, 1001, label_values.SERVER)
            elif sock.state == "pending":
                self.reject(sock, label_values.CLIENT_GONE)


TrackingMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_tracking_model = TrackingMachine.TestCase
