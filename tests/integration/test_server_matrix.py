"""The server matrix: one foreign project on every ASGI server, each way of ending a socket.

Each server and mode (one process, or two workers in prometheus_client's
multiprocess mode) is started once; every scenario runs against it in
sequence (``observe``), and one test per scenario compares what was observed
with ``EXPECTED``, the one table of what each server does and what the
product counts (``docs/servers.md`` is written from it). Counts are exact.

``VIDAI_MATRIX_REPORT=<file>`` appends every run's observations there as JSON
lines, for the docs and for reports.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..matrix.consumers import CANCELLED, HEARD, SERVER_CLOSE_CODE
from ..servers import (
    LiveServer,
    SeriesKey,
    answers,
    asgi_server_command,
    connections_held,
    free_port,
    parse_samples,
    running,
    server_env,
    serving_pids,
    value,
)

pytestmark = pytest.mark.server

APP = "tests.matrix.asgi:application"
STATUS = "/socket-status/"
OPEN = "vidai_websocket_connections"
OPENED = "vidai_websocket_connections_opened_total"
CLOSED = "vidai_websocket_connections_closed_total"
REJECTED = "vidai_websocket_connections_rejected_total"
MESSAGES = "vidai_websocket_messages_total"
BYTES = "vidai_websocket_message_bytes_total"

# Sockets per scenario, sockets open while scraping repeatedly, and scrapes.
SOCKETS = 2
HELD = 200
SCRAPES = 20
# Workers in the multiprocess runs.
WORKERS = 4
# Frames the echo scenario sends, each echoed back.
TEXT = "héllo"  # 6 bytes in UTF-8
DATA = b"\x00\x01\x02\x03"
# The code a client sees when the connection ends without a close frame.
NO_CLOSE_FRAME = 1006


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One way of running a server: its name, uvicorn's WebSocket implementation, workers."""

    server: str
    ws: str | None = None
    workers: int = 1

    @property
    def id(self) -> str:
        name = f"{self.server}-{self.ws}" if self.ws else self.server
        return f"{name}-{self.workers}w"

    @property
    def multiprocess(self) -> bool:
        return self.workers > 1

    @property
    def stops_when_a_worker_dies(self) -> bool:
        """hypercorn's supervisor stops every worker when one exits with an error."""
        return self.server == "hypercorn" and self.multiprocess


@dataclass(frozen=True)
class Close:
    """How a socket's end looks: the code the app hears, the client's, and the label counted.

    ``heard`` is the code of the ``websocket.disconnect`` the server hands the
    app (``None``: none at all); ``client`` the code in the close frame the
    client receives (1006: none, the connection just ended).
    """

    heard: int | tuple[int | None, ...] | None  # a tuple: any of these, by a race
    client: int | None
    reason: str
    initiator: str
    # Other "reason/initiator" labels some of the sockets get, by a race the
    # product cannot see (the server tells the app nothing that tells them apart).
    race: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.reason}/{self.initiator}"


# Scenarios that end accepted sockets; each is a row of the table.
CLIENT_CLOSE = "client_close"  # the client sends a close frame with 1000
SERVER_CLOSE = "server_close"  # the app closes with 4000
APP_RAISES = "app_raises"  # the app raises after accept
CLIENT_DROP = "client_drop"  # the client's TCP connection ends without a close frame
WORKER_KILLED = "worker_killed"  # SIGKILL of a worker holding sockets (several workers)
SHUTDOWN = "shutdown"  # SIGTERM to the server with sockets open
CLOSE_SCENARIOS = (CLIENT_CLOSE, SERVER_CLOSE, APP_RAISES, CLIENT_DROP, WORKER_KILLED, SHUTDOWN)
# Scenarios whose expectations are the same on every server.
COMMON_SCENARIOS = ("refused", "unrouted", "frames", "scrapes")

CLIENT_1000 = Close(1000, 1000, "normal", "client")
# A lost TCP connection: 1005 (no status) from most servers, which reads as a normal close.
DROP_1005 = Close(1005, None, "normal", "client")
DROP_1006 = Close(1006, None, "abnormal", "client")
# The app raised: the product counts the server's internal error, whatever the client sees.
RAISED = "internal_error", "server"
# A SIGKILLed worker's sockets are counted closed by the server when noticed.
KILLED = Close(None, NO_CLOSE_FRAME, "worker_lost", "server")
# 1012-1014 are only ever the server's, whoever hands them to the app (not 1011:
# RFC 6455 errata 3227 lets clients send it).
RESTART_1012 = Close(1012, 1012, "service_restart", "server")

# uvicorn: the app's close is handed back to it as its own code (1005 by the legacy
# implementation); a raising app gets no close frame (the transport is closed).
UVICORN = {
    CLIENT_CLOSE: CLIENT_1000,
    SERVER_CLOSE: Close(SERVER_CLOSE_CODE, SERVER_CLOSE_CODE, "application", "server"),
    APP_RAISES: Close(None, NO_CLOSE_FRAME, *RAISED),
    CLIENT_DROP: DROP_1005,
    SHUTDOWN: RESTART_1012,
}
EXPECTED: dict[Run, dict[str, Close]] = {
    Run("uvicorn", "websockets"): {
        **UVICORN,
        SERVER_CLOSE: Close(1005, SERVER_CLOSE_CODE, "application", "server"),
        CLIENT_DROP: DROP_1006,
    },
    Run("uvicorn", "websockets-sansio"): UVICORN,
    Run("uvicorn", "wsproto"): UVICORN,
    Run("daphne"): {
        CLIENT_CLOSE: CLIENT_1000,
        SERVER_CLOSE: Close(SERVER_CLOSE_CODE, SERVER_CLOSE_CODE, "application", "server"),
        APP_RAISES: Close(None, 1011, *RAISED),
        CLIENT_DROP: DROP_1006,
        # The apps are neither told nor cancelled; the reactor drops the connections.
        SHUTDOWN: Close(None, NO_CLOSE_FRAME, "going_away", "server"),
    },
    Run("hypercorn"): {
        # hypercorn hands the app 1006 for a clean close (its issue #127), as for a
        # lost connection: nothing tells them apart, so it counts abnormal; the
        # abnormal-close alert skips targets whose server_info says hypercorn.
        CLIENT_CLOSE: Close(1006, 1000, "abnormal", "client"),
        SERVER_CLOSE: Close(1000, SERVER_CLOSE_CODE, "application", "server"),
        APP_RAISES: Close(None, 1011, *RAISED),
        CLIENT_DROP: DROP_1006,
        # After graceful_timeout (3 s) the apps are cancelled and the clients get 1011.
        SHUTDOWN: Close(None, 1011, "going_away", "server"),
    },
    Run("granian"): {
        CLIENT_CLOSE: CLIENT_1000,
        SERVER_CLOSE: Close(1005, SERVER_CLOSE_CODE, "application", "server"),
        APP_RAISES: Close(None, 1005, *RAISED),  # a close frame without a code
        CLIENT_DROP: DROP_1005,
        # The app hears 1005 (one process) or nothing (a worker); no close frame is sent.
        SHUTDOWN: Close((1005, None), NO_CLOSE_FRAME, "going_away", "server"),
    },
}
# Two workers behave as their one process (gunicorn's uvicorn workers as uvicorn's
# default implementation, websockets-sansio), and a killed worker's sockets are the server's.
ONE_PROCESS_LIKE = {
    Run("uvicorn", "websockets-sansio", workers=WORKERS): Run("uvicorn", "websockets-sansio"),
    Run("hypercorn", workers=WORKERS): Run("hypercorn"),
    Run("granian", workers=WORKERS): Run("granian"),
    Run("gunicorn", workers=WORKERS): Run("uvicorn", "websockets-sansio"),
}
EXPECTED.update({run: {**EXPECTED[like]} for run, like in ONE_PROCESS_LIKE.items()})
for _run, _row in EXPECTED.items():
    if _run.multiprocess:  # one process: nothing is left to count its sockets
        _row[WORKER_KILLED] = KILLED
    if _run.stops_when_a_worker_dies:
        del _row[SHUTDOWN]  # the killed worker's scenario ends with the server's shutdown
# granian's forked workers end without running exit handlers (multiprocessing's fork
# start method leaves through os._exit): at lifespan shutdown the worker counts what
# it still holds as the server's going_away. Apps that heard 1005 before that, as
# granian drops the connections, count as a client's normal close: the same code a
# client's TCP drop gives there, which nothing tells apart.
EXPECTED[Run("granian", workers=WORKERS)][SHUTDOWN] = Close(
    (1005, None), NO_CLOSE_FRAME, "going_away", "server", race=(DROP_1005.label,)
)


# --- running the scenarios ---------------------------------------------------------------


@dataclass
class Ended:
    """What one scenario ending accepted sockets showed."""

    heard: list[int | None] = field(default_factory=list)
    cancelled: int = 0
    client: list[int | None] = field(default_factory=list)
    closed: dict[str, int] = field(default_factory=dict)  # "reason/initiator": count
    opened: int = 0
    open_after: float = 0.0
    sockets: int = 0


@dataclass
class Observed:
    """Everything one run of a server showed."""

    run: str
    ended: dict[str, Ended] = field(default_factory=dict)
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)
    refusal_status: dict[str, int | None] = field(default_factory=dict)
    frames: dict[str, float] = field(default_factory=dict)
    scraped_open: list[float] = field(default_factory=list)
    status_open: list[int] = field(default_factory=list)
    serving_pids: list[int] = field(default_factory=list)
    exited_with_atexit: list[int] = field(default_factory=list)
    shutdown_seconds: float = 0.0
    exited: bool = False
    respawned: bool | None = None
    after_kill: dict[str, float] = field(default_factory=dict)
    after_shutdown: dict[str, float] = field(default_factory=dict)
    after_restart: dict[str, float] = field(default_factory=dict)
    open_after_scrapes: float = -1.0
    seconds: float = 0.0


def closes(after: Mapping[SeriesKey, float], before: Mapping[SeriesKey, float]) -> dict[str, int]:
    """The echo's closes counted between two scrapes, as "reason/initiator": count."""
    counted: Counter[str] = Counter()
    for (name, labels), sample in after.items():
        label = dict(labels)
        if name == CLOSED and label.get("type") == "echo":
            gained = int(sample - before.get((name, labels), 0.0))
            if gained:
                counted[f"{label['reason']}/{label['initiator']}"] += gained
    return dict(counted)


def closed_sum(samples: Mapping[SeriesKey, float]) -> float:
    return sum(
        v for (name, labels), v in samples.items() if name == CLOSED and ("type", "echo") in labels
    )


def with_tag(server: LiveServer, tag: str) -> str:
    return f"{server.ws}/ws/echo/?tag={tag}"


async def ended_code(ws: ClientConnection, seconds: float = 15) -> int | None:
    """Wait for the connection to end; the code of the close frame the client got."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ws.wait_closed(), seconds)
    received = ws.protocol.close_rcvd
    return received.code if received is not None else NO_CLOSE_FRAME


def workers_back(pid: int, workers: int, seconds: float) -> bool:
    """Whether the server ``pid`` has ``workers`` workers again within ``seconds``."""
    deadline = time.monotonic() + seconds
    while len(serving_pids(pid)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(serving_pids(pid)) == workers


def drop_after_accept(port: int, tag: str) -> socket.socket:
    """Open a WebSocket by hand and return its socket, accepted (101 read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/echo/?tag={tag} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


class Matrix:
    """One server run: the scenarios in sequence, each recorded into ``observed``."""

    def __init__(self, run: Run, server: LiveServer, directory: Path | None) -> None:
        self.run = run
        self.server = server
        self.directory = directory
        self.observed = Observed(run.id)

    def scrape(self) -> dict[SeriesKey, float]:
        return self.server.wait_for(lambda s: True)

    def settled(
        self, before: Mapping[SeriesKey, float], *, open_: int, ended: int
    ) -> dict[SeriesKey, float]:
        """Scrape until the echo's gauge is ``open_`` and ``ended`` more closes are counted."""
        target = closed_sum(before) + ended
        _held, samples = self.server.settle(
            lambda s: value(s, OPEN, type="echo") == open_ and closed_sum(s) == target, 5
        )
        assert isinstance(samples, dict), samples
        return samples

    def record(
        self,
        scenario: str,
        before: Mapping[SeriesKey, float],
        after: Mapping[SeriesKey, float],
        client: list[int | None],
    ) -> None:
        self.observed.ended[scenario] = Ended(
            client=client,
            closed=closes(after, before),
            opened=int(value(after, OPENED, type="echo") - value(before, OPENED, type="echo")),
            open_after=value(after, OPEN, type="echo"),
            sockets=len(client),
        )

    async def refusals(self) -> None:
        before = self.scrape()
        for name, path in (("refused", "/ws/refuse/"), ("unrouted", "/ws/nowhere/")):
            try:
                async with connect(self.server.ws + path):
                    status = None
            except InvalidStatus as error:
                status = error.response.status_code
            self.observed.refusal_status[name] = status
        after = self.server.settle(
            lambda s: (
                value(s, REJECTED, type="unknown", reason="no_route")
                > value(before, REJECTED, type="unknown", reason="no_route")
            )
        )[1]
        assert isinstance(after, dict), after
        for name, series in (
            ("refused", ("refuse", "forbidden")),
            ("unrouted", ("unknown", "no_route")),
        ):
            self.observed.rejected[name] = {
                "/".join(series): int(
                    value(after, REJECTED, type=series[0], reason=series[1])
                    - value(before, REJECTED, type=series[0], reason=series[1])
                ),
                "opened": int(
                    value(after, OPENED, type="refuse") - value(before, OPENED, type="refuse")
                ),
            }

    async def client_close(self) -> None:
        """Client closes with 1000 after one text and one binary frame each way."""
        before = self.scrape()
        codes = []
        for _ in range(SOCKETS):
            async with connect(with_tag(self.server, CLIENT_CLOSE)) as ws:
                await ws.send(TEXT)
                await ws.send(DATA)
                assert await ws.recv() == TEXT
                assert await ws.recv() == DATA
            codes.append(await ended_code(ws))
        # Frames are published by workers once a refresh interval.
        after = self.server.settle(
            lambda s: (
                value(s, OPEN, type="echo") == 0
                and closed_sum(s) == closed_sum(before) + SOCKETS
                and value(s, MESSAGES, type="echo", direction="sent")
                == value(before, MESSAGES, type="echo", direction="sent") + 2 * SOCKETS
            ),
            5,
        )[1]
        assert isinstance(after, dict), after
        self.record(CLIENT_CLOSE, before, after, codes)
        self.observed.frames = {
            f"{name.rsplit('_', 2)[-2]}/{direction}": value(
                after, name, type="echo", direction=direction
            )
            - value(before, name, type="echo", direction=direction)
            for name in (MESSAGES, BYTES)
            for direction in ("received", "sent")
        }

    async def app_ends(self, scenario: str, frame: str) -> None:
        """The app closes (``close``) or raises (``raise``) when asked by a frame."""
        before = self.scrape()
        codes = []
        for _ in range(SOCKETS):
            async with connect(with_tag(self.server, scenario)) as ws:
                await ws.send(frame)
                with contextlib.suppress(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                codes.append(await ended_code(ws))
        self.record(scenario, before, self.settled(before, open_=0, ended=SOCKETS), codes)

    async def client_drop(self) -> None:
        before = self.scrape()
        for _ in range(SOCKETS):
            drop_after_accept(self.server.port, CLIENT_DROP).close()
        after = self.settled(before, open_=0, ended=SOCKETS)
        self.record(CLIENT_DROP, before, after, [None] * SOCKETS)

    async def open_sockets(self, tag: str, count: int) -> list[ClientConnection]:
        sockets = [await connect(with_tag(self.server, tag)) for _ in range(count)]
        base = value(self.scrape(), OPEN, type="echo")
        assert base >= count, (base, count)
        return sockets

    async def scrapes(self) -> None:
        """With ``HELD`` sockets open, every scrape of /metrics and the status JSON says so."""
        sockets = await self.open_sockets("held", HELD)
        # The status JSON is at most one refresh interval (1 s) old in multiprocess mode.
        deadline = time.monotonic() + 15
        while (shown := self.status_open()) != HELD:
            assert time.monotonic() < deadline, f"the status JSON says {shown}, not {HELD}"
            await asyncio.sleep(0.1)  # polling a server over HTTP: no event to wait on
        for _ in range(SCRAPES):
            self.observed.scraped_open.append(value(self.scrape(), OPEN, type="echo"))
            self.observed.status_open.append(self.status_open())
        for ws in sockets:
            await ws.close()
        _held, samples = self.server.settle(lambda s: value(s, OPEN, type="echo") == 0, 5)
        assert isinstance(samples, dict), samples
        self.observed.open_after_scrapes = value(samples, OPEN, type="echo")

    def status_open(self) -> int:
        status, body = self.server.get(STATUS)
        assert status == 200, body
        return int(json.loads(body)["sockets_by_type"].get("echo", 0))

    def merged(self) -> dict[SeriesKey, float]:
        """What the workers' files say, merged as ``/metrics`` would (the server may be gone)."""
        from metrics.multiprocess import merged_registry

        assert self.directory is not None
        return parse_samples(generate_latest(merged_registry(str(self.directory))).decode())

    async def worker_killed(self, process: subprocess.Popen[bytes]) -> bool:
        """SIGKILL the worker holding most of six sockets; then close the survivors.

        Return whether the server is still serving (hypercorn stops every
        worker when one dies, and then the workers' files are read instead).
        """
        sockets = await self.open_sockets(WORKER_KILLED, 6)
        before = self.scrape()
        victim = max(
            serving_pids(process.pid), key=lambda pid: connections_held(pid, self.server.port)
        )
        held = connections_held(victim, self.server.port)
        os.kill(victim, signal.SIGKILL)
        ended = await asyncio.gather(
            *(asyncio.wait_for(ws.wait_closed(), 5) for ws in sockets), return_exceptions=True
        )
        closed = [ws for ws, done in zip(sockets, ended, strict=True) if done is None]
        lost = [ws for ws in closed if ws.protocol.close_rcvd is None]
        survivors = len(sockets) - held
        stopped = exits(process, 10) if len(closed) == len(sockets) else False
        assert len(lost) == (len(sockets) if stopped else held), (len(lost), held)
        kill = self.observed.after_kill
        kill.update(held=held, survivors=survivors, server_stopped=stopped)
        if stopped:
            after = self.merged()
            self.record(WORKER_KILLED, before, after, [await ended_code(ws) for ws in closed])
            kill.update(
                open=value(after, OPEN, type="echo"),
                opened_minus_closed=value(after, OPENED, type="echo") - closed_sum(after),
            )
            return False
        after = self.settled(before, open_=survivors, ended=held)
        self.record(WORKER_KILLED, before, after, [await ended_code(ws) for ws in lost])
        kill.update(
            open=value(after, OPEN, type="echo"),
            opened_minus_closed=value(after, OPENED, type="echo") - closed_sum(after),
        )
        for ws in sockets:
            await ws.close()
        final = self.settled(before, open_=0, ended=len(sockets))
        kill.update(
            open_after_survivors_closed=value(final, OPEN, type="echo"),
            opened_minus_closed_at_end=value(final, OPENED, type="echo") - closed_sum(final),
        )
        self.observed.respawned = await asyncio.to_thread(
            workers_back, process.pid, self.run.workers, 10
        )
        return True

    async def shutdown(self, process_pid: int, wait: Any) -> None:
        """SIGTERM the server with sockets open: what the clients see, what is left counted."""
        sockets = await self.open_sockets(SHUTDOWN, 3)
        before = self.scrape()
        self.observed.serving_pids = serving_pids(process_pid)
        started = time.monotonic()
        os.kill(process_pid, signal.SIGTERM)
        codes = await asyncio.gather(*(ended_code(ws, seconds=30) for ws in sockets))
        self.observed.exited = await asyncio.to_thread(wait)
        self.observed.shutdown_seconds = round(time.monotonic() - started, 1)
        after: Mapping[SeriesKey, float] = {}
        if self.directory is not None:  # what the workers' files say afterwards
            after = self.merged()
            self.observed.after_shutdown = {
                "open": value(after, OPEN, type="echo"),
                "opened_minus_closed": value(after, OPENED, type="echo") - closed_sum(after),
            }
        self.record(SHUTDOWN, before, after or before, codes)
        if not after:  # one process: its registry died with it
            self.observed.ended[SHUTDOWN].closed = {}

    def read_log(self) -> None:
        """What the app heard, per scenario, from the server's log."""
        log = self.server.log()
        for tag, code in re.findall(rf"^{HEARD} (\w+) (\w+)$", log, re.MULTILINE):
            if tag in self.observed.ended:
                self.observed.ended[tag].heard.append(None if code == "None" else int(code))
        for tag in re.findall(rf"^{CANCELLED} (\w+)$", log, re.MULTILINE):
            if tag in self.observed.ended:
                self.observed.ended[tag].cancelled += 1


@contextlib.contextmanager
def serving(
    run: Run,
    workdir: Path,
    *,
    multiprocess: bool = True,
    log_name: str = "server.log",
    **extra: str,
) -> Iterator[tuple[LiveServer, Any, Path | None]]:
    """Start the run's server on the matrix project; yield it, its process and its directory.

    A second start in the same ``workdir`` reuses its multiprocess directory,
    as a restarted server would.
    """
    port = free_port()
    directory = workdir / "multiproc" if run.multiprocess and multiprocess else None
    atexit_dir = workdir / "atexit"
    atexit_dir.mkdir(exist_ok=True)
    extra = {
        "DJANGO_SETTINGS_MODULE": "tests.matrix.settings",
        "MATRIX_ATEXIT_DIR": str(atexit_dir),
        **extra,
    }
    if directory is not None:
        directory.mkdir(exist_ok=True)
        extra["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    env = server_env(None, **extra)
    log_path = workdir / log_name
    probe = LiveServer(run.id, port, None, log_path, env)  # type: ignore[arg-type]
    command = asgi_server_command(run.server, APP, port, workers=run.workers, ws=run.ws)
    with running(
        run.id,
        command,
        ready=lambda: answers(lambda: probe.get("/metrics")[0] == 200),
        log_path=log_path,
        env=env,
        timeout=60,
        own_group=True,
    ) as process:
        yield LiveServer(run.id, port, process, log_path, env), process, directory


def exits(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether the process exits within ``timeout`` seconds."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def observe(run: Run) -> Observed:
    """Start the run's server once and run every scenario against it, in sequence."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"matrix-{run.id}-") as work:
        workdir = Path(work)
        with serving(run, workdir) as (server, process, directory):
            matrix = Matrix(run, server, directory)

            async def scenarios() -> None:
                await matrix.refusals()
                await matrix.client_close()
                await matrix.app_ends(SERVER_CLOSE, "close")
                await matrix.app_ends(APP_RAISES, "raise")
                await matrix.client_drop()
                await matrix.scrapes()
                if not run.multiprocess or await matrix.worker_killed(process):
                    await matrix.shutdown(process.pid, lambda: exits(process, 40))

            asyncio.run(scenarios())
            matrix.read_log()
            pids = {int(p.name) for p in (workdir / "atexit").iterdir()}
            matrix.observed.exited_with_atexit = sorted(pids & set(matrix.observed.serving_pids))
        if run.multiprocess:  # the whole server again, on the same directory
            with serving(run, workdir, log_name="restarted.log") as (server, _process, _dir):
                samples = server.wait_for(lambda s: True)
                matrix.observed.after_restart = {
                    "opened": value(samples, OPENED, type="echo"),
                    "closed": closed_sum(samples),
                    "open": value(samples, OPEN, type="echo"),
                }
    matrix.observed.seconds = round(time.monotonic() - started, 1)
    report = os.environ.get("VIDAI_MATRIX_REPORT")
    if report:
        with open(report, "a") as out:
            out.write(json.dumps(dataclasses.asdict(matrix.observed)) + "\n")
    return matrix.observed


_observed: dict[Run, Observed | BaseException] = {}


def observed(run: Run) -> Observed:
    """The run's observations, made once per module (the last run's kept, not all)."""
    if run not in _observed:
        _observed.clear()
        try:
            _observed[run] = observe(run)
        except Exception as error:  # every scenario of this run reports it, none restarts it
            _observed[run] = error
    result = _observed[run]
    if isinstance(result, BaseException):
        raise result
    return result


# --- the tests ---------------------------------------------------------------------------

RUNS = tuple(EXPECTED)
CASES = [
    pytest.param(run, scenario, id=f"{run.id}-{scenario}")
    for run in RUNS
    for scenario in (
        *COMMON_SCENARIOS,
        *(s for s in CLOSE_SCENARIOS if s in EXPECTED[run]),
        *(["restart"] if run.multiprocess else []),
    )
]


@pytest.mark.parametrize(("run", "scenario"), CASES)
def test_server_matrix(run: Run, scenario: str) -> None:
    seen = observed(run)
    if scenario == "refused":
        assert seen.refusal_status["refused"] == 403
        assert seen.rejected["refused"] == {"refuse/forbidden": 1, "opened": 0}
    elif scenario == "unrouted":
        assert seen.refusal_status["unrouted"] == 403
        assert seen.rejected["unrouted"] == {"unknown/no_route": 1, "opened": 0}
    elif scenario == "frames":
        size = len(TEXT.encode()) + len(DATA)
        assert seen.frames == {
            "messages/received": 2 * SOCKETS,
            "messages/sent": 2 * SOCKETS,
            "bytes/received": size * SOCKETS,
            "bytes/sent": size * SOCKETS,
        }
    elif scenario == "scrapes":
        assert seen.scraped_open == [HELD] * SCRAPES
        assert seen.status_open == [HELD] * SCRAPES
        assert seen.open_after_scrapes == 0
    elif scenario == "restart":
        # A restart of the whole server merges nothing of the last run.
        assert seen.after_restart == {"opened": 0, "closed": 0, "open": 0}
    else:
        check_close(run, scenario, seen)


def check_close(run: Run, scenario: str, seen: Observed) -> None:
    expected = EXPECTED[run][scenario]
    ended = seen.ended[scenario]
    count = ended.sockets
    assert count, "no socket ended in this scenario"
    heard = expected.heard if isinstance(expected.heard, tuple) else (expected.heard,)
    shown: dict[str, Any] = {
        "heard": set(ended.heard or [None]) <= set(heard),
        "client": sorted(set(ended.client), key=str),
        "closed": ended.closed,
    }
    wanted: dict[str, Any] = {
        "heard": True,
        "client": [expected.client],
        "closed": {expected.label: count},
    }
    if expected.race and set(ended.closed) <= {expected.label, *expected.race}:
        # Split between the labels by the race: every socket counted, once.
        wanted["closed"] = {label: n for label, n in ended.closed.items() if n}
        assert sum(ended.closed.values()) == count
    if scenario == SHUTDOWN and not run.multiprocess:
        wanted["closed"] = {}  # one process: nothing is left to scrape afterwards
    if scenario == WORKER_KILLED:
        # What the app heard is mixed with the survivors' later closes: not compared.
        shown["heard"] = True
        kill = seen.after_kill
        held, survivors = kill["held"], kill["survivors"]
        assert kill["server_stopped"] == run.stops_when_a_worker_dies
        if kill["server_stopped"]:  # hypercorn SIGTERMs the survivors at once: lost as well
            wanted["closed"] = {expected.label: held + survivors}
        else:
            wanted["closed"] = {expected.label: held}
    assert shown == wanted
    if scenario == SHUTDOWN and run.multiprocess:
        assert seen.after_shutdown == {"open": 0, "opened_minus_closed": 0}
    if scenario == WORKER_KILLED:
        kill = seen.after_kill
        if kill["server_stopped"]:
            assert (kill["open"], kill["opened_minus_closed"]) == (0, 0)
        else:
            assert kill["open"] == kill["survivors"]
            assert kill["opened_minus_closed"] == kill["open"]
            assert kill["open_after_survivors_closed"] == 0
            assert kill["opened_minus_closed_at_end"] == 0
            assert seen.respawned


UNMERGED = "without prometheus_client's multiprocess mode"


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
def test_workers_without_multiprocess_mode_say_so_at_startup(server: str, tmp_path: Path) -> None:
    run = Run(server, "websockets-sansio" if server == "uvicorn" else None, workers=2)
    with serving(run, tmp_path, multiprocess=False) as (live, process, _directory):
        pids = serving_pids(process.pid)
        live.settle(lambda s: live.log().count(UNMERGED) >= len(pids), 10)
        log = live.log()
    # Every worker logs it, naming the fix; none speaks of paths or queries.
    assert len(pids) == 2
    assert log.count(UNMERGED) == 2, log
    assert log.count("Set PROMETHEUS_MULTIPROC_DIR") == 2


def test_another_worker_takes_the_listener_over_when_its_worker_dies(tmp_path: Path) -> None:
    run = Run("uvicorn", "websockets-sansio", workers=WORKERS)
    listen = free_port()
    with serving(run, tmp_path, MATRIX_LISTEN=f"127.0.0.1:{listen}") as (
        live,
        process,
        _directory,
    ):
        listener = LiveServer("listener", listen, process, live.log_path, live.env)
        assert listener.settle(lambda s: value(s, OPEN, type="echo") == 0, 10)[0]
        holder = [pid for pid in serving_pids(process.pid) if listens_on(pid, listen)]
        assert len(holder) == 1, holder  # one worker serves the host
        os.kill(holder[0], signal.SIGKILL)
        # Another worker binds it within its 2 s retry and serves every worker's files.
        held, samples = listener.settle(lambda s: value(s, OPEN, type="echo") == 0, 10)
        assert held, samples
        taken = [pid for pid in serving_pids(process.pid) if listens_on(pid, listen)]
        assert len(taken) == 1
        assert taken != holder


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the listening socket on ``port`` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return True
    return False


# --- docs/servers.md ---------------------------------------------------------------------

SERVERS_DOC = Path(__file__).resolve().parents[2] / "docs" / "servers.md"
TABLE_BEGIN = "<!-- server matrix: begin (tests/integration/test_server_matrix.py) -->"
TABLE_END = "<!-- server matrix: end -->"
COLUMNS = {
    CLIENT_CLOSE: "client closes (1000)",
    SERVER_CLOSE: f"app closes ({SERVER_CLOSE_CODE})",
    APP_RAISES: "app raises after accept",
    CLIENT_DROP: "client's TCP drops",
    WORKER_KILLED: "worker SIGKILLed",
    SHUTDOWN: "server SIGTERMed",
}


def _code(code: int | tuple[int | None, ...] | None) -> str:
    if isinstance(code, tuple):
        return " or ".join(_code(c) for c in code)
    return "nothing" if code is None else str(code)


def _cell(close: Close | None, run: Run, scenario: str) -> str:
    if close is None:
        return "(server stops)" if run.stops_when_a_worker_dies else "n/a"
    counted = f"`{close.reason}` by {close.initiator}"
    if close.race:
        counted += " or " + " or ".join(
            f"`{r.split('/')[0]}` by {r.split('/')[1]}" for r in close.race
        )
    if scenario == SHUTDOWN and not run.multiprocess:
        counted = "(nothing left to scrape)"
    client = {NO_CLOSE_FRAME: "no close frame", None: "(it left)"}.get(
        close.client, str(close.client)
    )
    return f"hears {_code(close.heard)}; counts {counted}; client gets {client}"


def servers_table() -> str:
    """The matrix's expectations as the markdown table of docs/servers.md."""
    rows = [
        "| server | " + " | ".join(COLUMNS.values()) + " |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for run, row in EXPECTED.items():
        name = f"{run.server} (`--ws {run.ws}`)" if run.ws else run.server
        name += f", {run.workers} workers" if run.multiprocess else ", one process"
        cells = [_cell(row.get(scenario), run, scenario) for scenario in COLUMNS]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def test_docs_servers_md_shows_the_matrix_this_module_asserts() -> None:
    text = SERVERS_DOC.read_text()
    before, _, rest = text.partition(TABLE_BEGIN + "\n")
    _, _, after = rest.partition(TABLE_END)
    table = servers_table()
    if os.environ.get("VIDAI_UPDATE_GOLDEN") == "1":
        SERVERS_DOC.write_text(f"{before}{TABLE_BEGIN}\n{table}{TABLE_END}{after}")
        rest = table + TABLE_END
    assert rest.partition(TABLE_END)[0] == table, "run with VIDAI_UPDATE_GOLDEN=1 to regenerate"
