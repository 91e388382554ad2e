"""``manage.py open_sockets``: open real WebSocket clients against a running server.

For demos and load checks of the socket status page::

    python manage.py open_sockets --url ws://127.0.0.1:8000 --user demo-clinician \
        --password ... --consultation <id> --type call=20 --type stt_room=5

Every socket needs a logged-in user: ``--user`` and ``--password`` log in
through the server's login page (or ``--session`` takes a session cookie's
value), and each handshake carries that session and the server's own
Origin. Opens the sockets, holds them while each sends a few frames, then
closes them all with code 1000, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from consultation import remote
from consultation.access import consultation_id

# Paths below the server root; {room} is the consultation (--consultation).
PATHS = {
    "call": "ws/call/{room}/",
    "stt": "ws/stt/",
    # The role and name are the participant's, from the server's record.
    "stt_room": "ws/stt/room/?consultation={room}",
    "stt_sales": "ws/stt/sales/",
    "stt_admin": "ws/stt/admin/",
}
NEEDS_CONSULTATION = ("call", "stt_room")

# One frame per type that its consumer accepts (see consultation.consumers).
FRAMES: dict[str, str | bytes] = {
    "call": json.dumps({"type": "offer", "sdp": "demo"}),
    # 20 ms of 16 kHz 16-bit mono silence: the size of a browser's audio chunk.
    "stt": bytes(640),
    "stt_room": json.dumps({"text": "demo"}),
    "stt_sales": json.dumps({"type": "ping"}),
    "stt_admin": json.dumps({"type": "ping"}),
}

MAX_COUNT = 10_000
CLOSE_TIMEOUT = 5.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Tally:
    """What happened to the sockets of one type."""

    planned: int
    opened: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    dropped: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    received: int = 0


@dataclass
class Session:
    """One run: open the planned sockets, hold them, close them."""

    base_url: str
    room: str
    session_key: str
    frames: int
    hold: float
    concurrency: int
    tallies: dict[str, Tally]
    connections: list[tuple[str, ClientConnection]] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False

    async def run(self, progress: Progress) -> None:
        """Open, hold and close; a stop signal skips straight to closing."""
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            # Not available on Windows, where Ctrl-C stays a KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stop.set)
        try:
            with progress:
                await self._until_stopped(self._open_all(progress))
            if self.connections and not self.stop.is_set():
                how_long = f"for {self.hold:g} s" if self.hold else "until Ctrl-C"
                progress.console.print(f"holding {len(self.connections)} sockets {how_long}")
                await self._until_stopped(self._hold())
        finally:
            if self.connections:
                progress.console.print(f"closing {len(self.connections)} sockets")
            await self._close_all()
            for sig in SIGNALS:
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` until it ends or a stop signal arrives, then cancel what is left."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        task.cancel()
        stopper.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)

    async def _open_all(self, progress: Progress) -> None:
        bar = progress.add_task("opening", total=sum(t.planned for t in self.tallies.values()))
        # Bounded, so a big run does not hit the server with every handshake at once.
        gate = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(
            *(
                self._open_one(socket_type, gate, progress, bar)
                for socket_type, tally in self.tallies.items()
                for _ in range(tally.planned)
            )
        )

    async def _open_one(
        self, socket_type: str, gate: asyncio.Semaphore, progress: Progress, bar: TaskID
    ) -> None:
        tally = self.tallies[socket_type]
        url = self.base_url + "/" + PATHS[socket_type].format(room=self.room)
        async with gate:
            try:
                # proxy=None: the run measures the server, not a proxy from the environment.
                ws = await connect(
                    url,
                    proxy=None,
                    close_timeout=CLOSE_TIMEOUT,
                    origin=http_origin(self.base_url),  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sessionid={self.session_key}"},
                )
            except InvalidStatus as exc:
                tally.failed[f"HTTP {exc.response.status_code}"] += 1
            except (OSError, InvalidHandshake) as exc:
                tally.failed[type(exc).__name__] += 1
            else:
                tally.opened += 1
                self.connections.append((socket_type, ws))
                self.readers.append(asyncio.create_task(self._drain(socket_type, ws)))
        progress.advance(bar)

    async def _drain(self, socket_type: str, ws: ClientConnection) -> None:
        """Read all the server sends: an unread queue would stall its relays to us."""
        tally = self.tallies[socket_type]
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                tally.received += 1
        if not self.closing:
            tally.dropped[ws.close_code or 1006] += 1

    async def _hold(self) -> None:
        senders = [asyncio.create_task(self._send(t, ws)) for t, ws in self.connections]
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
            else:
                await self.stop.wait()
        finally:
            for sender in senders:
                sender.cancel()
            await asyncio.gather(*senders, return_exceptions=True)

    async def _send(self, socket_type: str, ws: ClientConnection) -> None:
        """Send ``frames`` frames spread over the hold (one a second when holding forever)."""
        interval = self.hold / self.frames if self.hold and self.frames else 1.0
        with contextlib.suppress(ConnectionClosed):
            for index in range(self.frames):
                if index:
                    await asyncio.sleep(interval)
                await ws.send(FRAMES[socket_type])
                self.tallies[socket_type].sent += 1

    async def _close_all(self) -> None:
        self.closing = True
        await asyncio.gather(
            *(ws.close(code=1000) for _, ws in self.connections), return_exceptions=True
        )
        await asyncio.gather(*self.readers, return_exceptions=True)


def parse_url(url: str) -> str:
    """Return the ws:// or wss:// base URL without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise CommandError(f"--url must be a ws:// or wss:// URL with a host, got {url!r}")
    if parts.query or parts.fragment:
        raise CommandError(f"--url must not carry a query or fragment, got {url!r}")
    return url.rstrip("/")


def http_origin(ws_url: str) -> str:
    """The server's own origin for a ws:// or wss:// base URL: what its pages send."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def parse_types(specs: list[str]) -> dict[str, int]:
    """Parse ``--type NAME=COUNT`` options into counts by socket type."""
    if not specs:
        raise CommandError(f"give at least one --type NAME=COUNT; types: {', '.join(PATHS)}")
    plan: dict[str, int] = {}
    for spec in specs:
        name, sep, count_text = spec.partition("=")
        if name not in PATHS:
            raise CommandError(
                f"unknown socket type {name!r} in --type {spec!r}; types: {', '.join(PATHS)}"
            )
        if not sep:
            raise CommandError(f"--type {spec!r}: write NAME=COUNT, e.g. {name}=5")
        if not count_text.isdigit() or not 1 <= int(count_text) <= MAX_COUNT:
            raise CommandError(
                f"--type {spec!r}: the count must be a whole number from 1 to {MAX_COUNT}"
            )
        if name in plan:
            raise CommandError(f"--type {name} is given twice; give each type once")
        plan[name] = int(count_text)
    return plan


def summary_lines(tallies: dict[str, Tally]) -> list[str]:
    """One line per type, then a total: opened, failed with reasons, frames."""
    lines = []
    for socket_type, tally in tallies.items():
        line = f"{socket_type}: {tally.opened} opened, {sum(tally.failed.values())} failed"
        if tally.failed:
            line += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(tally.failed.items())) + ")"
        line += f", {tally.sent} frames sent, {tally.received} received"
        if tally.dropped:
            dropped = ", ".join(f"code {c}: {n}" for c, n in sorted(tally.dropped.items()))
            line += f", closed by the server early ({dropped})"
        lines.append(line)
    opened = sum(t.opened for t in tallies.values())
    failed = sum(sum(t.failed.values()) for t in tallies.values())
    sent = sum(t.sent for t in tallies.values())
    lines.append(f"total: {opened} opened, {failed} failed, {sent} frames sent")
    return lines


class Command(BaseCommand):
    help = (
        "Open real WebSocket clients against a running server, hold them while "
        "sending a few frames, and close them with code 1000 (also on Ctrl-C)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="ws://127.0.0.1:8000", help="server base URL")
        parser.add_argument(
            "--type",
            action="append",
            default=[],
            dest="types",
            metavar="NAME=COUNT",
            help=f"sockets to open, repeatable; NAME is one of {', '.join(PATHS)}",
        )
        parser.add_argument(
            "--hold", type=float, default=60.0, help="seconds to hold them, 0 = until Ctrl-C"
        )
        parser.add_argument("--frames", type=int, default=3, help="frames each socket sends")
        parser.add_argument("--concurrency", type=int, default=50, help="handshakes at once")
        parser.add_argument(
            "--consultation",
            "--room",
            dest="room",
            help="consultation id, for call and stt_room (the user must take part in it)",
        )
        parser.add_argument("--user", help="log in as this user (with --password)")
        parser.add_argument("--password", help="the user's password")
        parser.add_argument("--session", help="a session cookie's value, instead of logging in")

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = parse_url(options["url"])
        plan = parse_types(options["types"])
        if not (math.isfinite(options["hold"]) and options["hold"] >= 0):
            raise CommandError("--hold must be 0 (until Ctrl-C) or more seconds")
        if options["frames"] < 0:
            raise CommandError("--frames must be 0 or more")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be 1 or more")
        room = options["room"]
        if any(name in NEEDS_CONSULTATION for name in plan) and room is None:
            raise CommandError("call and stt_room need --consultation ID (one you take part in)")
        if room is not None and consultation_id(room) is None:
            raise CommandError("--consultation must be a consultation id (a UUID)")
        session = Session(
            base_url=base_url,
            room=room or "",
            session_key=self._session_key(base_url, options),
            frames=options["frames"],
            hold=options["hold"],
            concurrency=options["concurrency"],
            tallies={name: Tally(planned=count) for name, count in plan.items()},
        )
        # The bar goes to stderr so that stdout carries only the summary.
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True, quiet=options["verbosity"] == 0),
            disable=options["verbosity"] == 0,
        )
        asyncio.run(session.run(progress))
        for line in summary_lines(session.tallies):
            self.stdout.write(line)
        failed = sum(sum(t.failed.values()) for t in session.tallies.values())
        if failed:
            raise CommandError(f"{failed} socket(s) failed to open; see the summary above")

    def _session_key(self, base_url: str, options: dict[str, Any]) -> str:
        """The session every socket carries: given, or from logging in."""
        if options["session"]:
            if options["user"]:
                raise CommandError("give --session or --user, not both")
            return str(options["session"])
        if not (options["user"] and options["password"]):
            raise CommandError(
                "every socket needs a logged-in user: give --user NAME --password PASSWORD "
                "(or --session KEY, a session cookie's value)"
            )
        try:
            return remote.login(http_origin(base_url), options["user"], options["password"])
        except (OSError, remote.LoginFailed) as error:
            raise CommandError(f"could not log in: {error}") from None
