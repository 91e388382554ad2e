"""The dedicated /metrics listener (VIDAI_METRICS_LISTEN) on real servers, and never elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from .servers import (
    ROOT,
    LiveServer,
    SeriesKey,
    free_port,
    parse_samples,
    run_command,
    run_server,
    server_env,
    value,
)
from .test_real_servers import OPEN, OPENED, closed_total
from .workers import run_gunicorn

pytestmark = pytest.mark.server

TOKEN = "listener-test-token"
ECHO = "/ws/test/echo/"
STATUS_JSON = "/consultation/socket-status/"


def get(url: str, token: str | None = TOKEN, timeout: float = 10) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def scrape(url: str) -> dict[SeriesKey, float]:
    status, body = get(url)
    assert status == 200, body
    return parse_samples(body.decode())


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(params=["uvicorn", "daphne"])
def listening(request: pytest.FixtureRequest, sqlite_path: str) -> Iterator[tuple[LiveServer, str]]:
    """A server with its dedicated listener, and the listener's /metrics URL."""
    port = free_port()
    with run_server(
        request.param,
        sqlite_path,
        VIDAI_METRICS_LISTEN=f"127.0.0.1:{port}",
        VIDAI_METRICS_TOKEN=TOKEN,
    ) as server:
        yield server, f"http://127.0.0.1:{port}/metrics"


async def test_the_listener_serves_the_same_counts_with_the_same_protection(listening) -> None:
    server, url = listening
    assert get(url, token=None)[0] == 401
    assert get(url, token="wrong")[0] == 401
    assert get(url.replace("/metrics", "/"))[0] == 404
    async with connect(server.ws + ECHO) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        samples = await asyncio.to_thread(scrape, url)
        assert value(samples, OPEN, type="test_echo") == 1
        messages = "vidai_websocket_messages_total"
        assert value(samples, messages, type="test_echo", direction="received") == 1
        app_port = await asyncio.to_thread(
            server.get, "/metrics", {"Authorization": f"Bearer {TOKEN}"}
        )
        assert app_port[0] == 200
        assert value(parse_samples(app_port[1].decode()), OPEN, type="test_echo") == 1
    deadline = time.monotonic() + 10
    while value(await asyncio.to_thread(scrape, url), OPEN, type="test_echo") != 0:
        assert time.monotonic() < deadline, "the close never reached the listener"
        await asyncio.sleep(0.05)


async def test_every_listener_scrape_balances_while_sockets_churn(listening) -> None:
    """Scrapes from the listener's thread never see half an open or a close."""
    server, url = listening
    stop = asyncio.Event()

    async def churn() -> None:
        while not stop.is_set():
            async with connect(server.ws + ECHO):
                pass

    churners = [asyncio.create_task(churn()) for _ in range(8)]
    unbalanced, scrapes = [], 0
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            samples = await asyncio.to_thread(scrape, url)
            scrapes += 1
            opened = value(samples, OPENED, type="test_echo")
            if opened - closed_total(samples, "test_echo") != value(
                samples, OPEN, type="test_echo"
            ):
                unbalanced.append(samples)
    finally:
        stop.set()
        await asyncio.gather(*churners)
    assert scrapes >= 20
    assert value(samples, OPENED, type="test_echo") >= 50  # really churning
    assert unbalanced == [], f"{len(unbalanced)} of {scrapes} scrapes unbalanced"


def scrape_latencies(url: str, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        status, _ = get(url, timeout=30)
        latencies.append(time.perf_counter() - start)
        assert status == 200
    return latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


def test_the_listener_answers_while_the_event_loop_is_saturated(sqlite_path: str) -> None:
    """200 scrapes during a churn that keeps the serving loop busy: p99 <= 250 ms."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with run_server(
        "uvicorn", sqlite_path, VIDAI_METRICS_LISTEN=f"127.0.0.1:{port}", VIDAI_METRICS_TOKEN=TOKEN
    ) as server:
        load = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.load", server.ws + ECHO,
             "--clients", "200", "--frames", "2", "--seconds", "60"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # Saturated: the app's own port answers a request slowly.
            deadline = time.monotonic() + 30
            while True:
                busy = scrape_latencies(server.http + STATUS_JSON, 3)
                if min(busy) > 0.05 or time.monotonic() > deadline:
                    break
            listener = scrape_latencies(url, 200)
            busy += scrape_latencies(server.http + STATUS_JSON, 10)
            still_loading = load.poll() is None
        finally:
            load.terminate()
            load.communicate(timeout=30)
    assert still_loading, "the load ended before the scrapes did"
    assert statistics.median(busy) > 0.05, f"the loop was not saturated: {busy}"
    assert p99(listener) <= 0.25, (
        f"p99 {p99(listener):.3f}s, median {statistics.median(listener):.3f}s"
    )


def test_manage_py_commands_never_listen(sqlite_path: str) -> None:
    port = free_port()
    probe = f"import socket; print(socket.socket().connect_ex(('127.0.0.1', {port})))"
    env = server_env(sqlite_path, VIDAI_METRICS_LISTEN=f"127.0.0.1:{port}")
    done = run_command(sys.executable, "manage.py", "shell", "-c", probe, env=env)
    assert done.stdout.strip().splitlines()[-1] != "0"  # nothing listens during a command


def test_under_gunicorn_one_listener_process_serves_every_worker(sqlite_path: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"

    async def hold_sockets(gunicorn_port: int) -> float:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(12):
                await stack.enter_async_context(connect(f"ws://127.0.0.1:{gunicorn_port}{ECHO}"))
            deadline = time.monotonic() + 15
            while (seen := value(scrape(url), OPEN, type="test_echo")) != 12:
                assert time.monotonic() < deadline, f"listener saw {seen} of 12"
                await asyncio.sleep(0.1)
            return seen

    with run_gunicorn(
        sqlite_path, VIDAI_METRICS_LISTEN=f"127.0.0.1:{port}", VIDAI_METRICS_TOKEN=TOKEN
    ) as gunicorn:
        deadline = time.monotonic() + 20
        while refuses_connections(port):
            assert time.monotonic() < deadline, gunicorn.server.log()
            time.sleep(0.1)
        assert get(url, token=None)[0] == 401
        assert asyncio.run(hold_sockets(gunicorn.server.port)) == 12
    deadline = time.monotonic() + 10
    while not refuses_connections(port):  # it went away with the master
        assert time.monotonic() < deadline, "the listener outlived gunicorn"
        time.sleep(0.1)
