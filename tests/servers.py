"""Real ASGI servers (uvicorn, daphne) in subprocesses on loopback, for tests."""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from vidai.serving import uvicorn_args

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("uvicorn", "daphne")
# Vidai's status JSON: every test server answers it once it is up.
STATUS_PATH = "/consultation/socket-status/"

SeriesKey = tuple[str, frozenset[tuple[str, str]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(sqlite_path: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "VIDAI_SQLITE_PATH": sqlite_path,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("VIDAI_METRICS_LISTEN", None)  # a test server listens only where its test says
    env.update(extra)
    return env


def server_command(kind: str, app: str, port: int, env: Mapping[str, str]) -> list[str]:
    """The command line of a test server; uvicorn's proxy trust and bounds as ``make run``'s."""
    if kind == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--ws-ping-interval", "1", "--ws-ping-timeout", "1", *uvicorn_args(env),
        ]  # fmt: skip
    if kind == "daphne":
        return [
            sys.executable, "-m", "metrics.daphne", "-b", "127.0.0.1", "-p", str(port),
            "--ping-interval", "1", "--ping-timeout", "2",
            "--application-close-timeout", "2", app,
        ]  # fmt: skip
    raise ValueError(kind)


@dataclass
class LiveServer:
    """A running server process and where to reach it."""

    kind: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.http + path, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def scrape(self) -> dict[SeriesKey, float]:
        """Return every vidai_ sample on /metrics, keyed by name and labels."""
        status, body = self.get("/metrics")
        assert status == 200, body
        return parse_samples(body.decode())

    def wait_for(self, predicate: object, timeout: float = 10.0) -> dict[SeriesKey, float]:
        """Scrape until ``predicate(samples)`` holds; fail with the last samples after timeout.

        A scrape that times out or is refused is retried: under load a slow
        answer is not a wrong one. Only the condition failing to hold fails.
        """
        deadline = time.monotonic() + timeout
        samples: dict[SeriesKey, float] | str = "no scrape answered"
        while True:
            try:
                samples = self.scrape()
            except OSError as error:  # urllib's timeouts and refusals
                samples = f"last scrape failed: {error!r}"
            else:
                if predicate(samples):  # type: ignore[operator]
                    return samples
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s: {samples}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.process)


@dataclass(frozen=True)
class RawAnswer:
    """What a server did with a request sent byte for byte."""

    status: int | None  # None: the connection closed without an answer
    head: str  # status line and headers, lower case
    read_all: bool  # whether every byte of the request could be sent


def raw_request(port: int, request: bytes, *, chunk: int = 64 * 1024) -> RawAnswer:
    """Send ``request`` as it is, and read the answer's head.

    Sending stops once an answer is waiting, or the server closes, as a
    server refusing a huge request head does before reading all of it.
    """
    received = b""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        try:
            while sent < len(request) and not select.select([sock], [], [], 0)[0]:
                sock.sendall(request[sent : sent + chunk])
                sent = min(len(request), sent + chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-request: its answer may still be waiting
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in received:
                data = sock.recv(64 * 1024)
                if not data:
                    break
                received += data
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", received)
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    return RawAnswer(int(match.group(1)) if match else None, head, sent == len(request))


def parse_samples(text: str) -> dict[SeriesKey, float]:
    samples: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("vidai_"):
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Mapping[SeriesKey, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def run_command(
    *command: str | Path, cwd: Path = ROOT, env: Mapping[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, output captured; with ``ok``, fail unless it exits 0."""
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if ok:
        assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


def migrate(sqlite_path: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=server_env(sqlite_path),
        check=True,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate a process, kill it if it does not exit in ``timeout`` seconds, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def answers(check: Callable[[], object]) -> bool:
    """Whether ``check()`` succeeds and is true; a refused or timed-out connection is False."""
    try:
        return bool(check())
    except OSError:
        return False


@contextlib.contextmanager
def running(
    name: str,
    command: list[str],
    *,
    ready: Callable[[], bool],
    log_path: Path | None = None,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until ``ready()`` holds, and stop it afterwards.

    The one way the tests start a server: it fails with the process's log
    when the process exits early or is not ready within ``timeout`` seconds.
    """
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(log_path.open("wb")) if log_path else subprocess.DEVNULL
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
        stack.callback(stop_process, process)

        def log_text() -> str:
            return log_path.read_text(errors="replace") if log_path else "(no log kept)"

        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not ready in {timeout:g}s:\n{log_text()}")
            time.sleep(0.1)
        yield process


@contextlib.contextmanager
def run_server(
    kind: str,
    sqlite_path: str,
    *,
    app: str = "tests.asgi_app:application",
    port: int | None = None,
    **env: str,
) -> Iterator[LiveServer]:
    """Start a server, wait until it answers, and stop it afterwards.

    ``port`` (default: a free one) lets a test restart a server where a client expects it.
    """
    port = port if port is not None else free_port()
    with tempfile.NamedTemporaryFile(prefix=f"{kind}-", suffix=".log", delete=False) as log_file:
        log_path = Path(log_file.name)
    full_env = server_env(sqlite_path, **env)
    probe = LiveServer(kind, port, None, log_path, full_env)  # type: ignore[arg-type]
    with running(
        kind,
        server_command(kind, app, port, full_env),
        ready=lambda: answers(lambda: probe.get(STATUS_PATH)[0] == 200),
        log_path=log_path,
        env=full_env,
    ) as process:
        yield LiveServer(kind, port, process, log_path, full_env)
