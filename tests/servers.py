"""Real ASGI servers (uvicorn, daphne, hypercorn, granian, gunicorn) on loopback, for tests."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
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

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("uvicorn", "daphne")
# Vidai's status JSON: every test server answers it once it is up.
STATUS_PATH = "/consultation/socket-status/"

SeriesKey = tuple[str, frozenset[tuple[str, str]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(sqlite_path: str | None, **extra: str) -> dict[str, str]:
    """A test server's environment: Vidai's test settings unless ``extra`` names others."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.demo.settings", "PYTHONUNBUFFERED": "1"}
    if sqlite_path is not None:
        env["VIDAI_SQLITE_PATH"] = sqlite_path
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("VIDAI_METRICS_LISTEN", None)  # a test server listens only where its test says
    env.update(extra)
    return env


def server_command(kind: str, app: str, port: int, env: Mapping[str, str]) -> list[str]:
    """The command line of a test server; uvicorn's proxy trust and bounds as ``make run``'s."""
    if kind == "uvicorn":
        from vidai.serving import uvicorn_args  # the demo's: make run serves with them

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


def asgi_server_command(
    server: str, app: str, port: int, *, workers: int = 1, ws: str | None = None
) -> list[str]:
    """A server's command line with its own defaults, as a team adopting it would type it.

    ``workers`` above 1 runs the server's own supervisor (gunicorn: uvicorn's
    worker class under the exporter's hooks); ``ws`` picks uvicorn's WebSocket
    implementation.
    """
    host = "127.0.0.1"
    several = workers > 1
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port),
            "--ws", ws or "websockets", *(["--workers", str(workers)] if several else []),
        ]  # fmt: skip
    if server == "daphne":
        return [sys.executable, "-m", "metrics.daphne", "-b", host, "-p", str(port), app]
    if server == "hypercorn":
        return [
            sys.executable, "-m", "hypercorn", "--bind", f"{host}:{port}",
            "--workers", str(workers), app,
        ]  # fmt: skip
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--host", host,
            "--port", str(port), "--workers", str(workers),
            *(["--respawn-failed-workers"] if several else []), app,
        ]  # fmt: skip
    if server == "gunicorn":
        config = ROOT / "tests" / "matrix" / "gunicorn_conf.py"
        return [
            sys.executable, "-m", "gunicorn", "-c", str(config), "-k",
            "uvicorn_worker.UvicornWorker", "-w", str(workers), "--bind", f"{host}:{port}", app,
        ]  # fmt: skip
    raise ValueError(server)


def child_pids(pid: int) -> list[int]:
    """The children of a process, from /proc (Linux), in no particular order."""
    children: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                children += [int(c) for c in (task / "children").read_text().split()]
    return children


def serving_pids(pid: int) -> list[int]:
    """The processes serving requests for the server ``pid``: its workers, or itself.

    multiprocessing's resource tracker (a child of servers that spawn workers
    with it) serves nothing.
    """
    workers = [c for c in child_pids(pid) if "resource_tracker" not in " ".join(command_line(c))]
    return sorted(workers) or [pid]


def command_line(pid: int) -> list[str]:
    """A process's argv, from /proc; empty once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def connections_held(pid: int, port: int) -> int:
    """How many established TCP connections to local ``port`` the process has open (Linux)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                    inodes.add(fields[9])
    held = 0
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


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
        held, samples = self.settle(predicate, timeout)
        if not held:
            raise AssertionError(f"condition not met within {timeout}s: {samples}")
        return samples  # type: ignore[return-value]

    def settle(
        self, predicate: object, timeout: float = 10.0
    ) -> tuple[bool, dict[SeriesKey, float] | str]:
        """Scrape until ``predicate(samples)`` holds or ``timeout`` passes.

        Return whether it held and the last samples (or why no scrape
        answered): for tests that record what a server reports, right or not.
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
                    return True, samples
            if time.monotonic() > deadline:
                return False, samples
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


def stop_process(
    process: subprocess.Popen[bytes], timeout: float = 10, *, group: bool = False
) -> None:
    """Terminate a process, kill it if it does not exit in ``timeout`` seconds, and reap it.

    With ``group`` (a process that leads its own session: a server and its
    workers), whatever is left of its process group is killed afterwards.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


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
    own_group: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until ``ready()`` holds, and stop it afterwards.

    The one way the tests start a server: it fails with the process's log
    when the process exits early or is not ready within ``timeout`` seconds.
    With ``own_group`` it runs in a new session, and whatever is left of its
    process group is killed at the end (workers orphaned by a killed master).
    """
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(log_path.open("wb")) if log_path else subprocess.DEVNULL
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=own_group
        )
        stack.callback(stop_process, process, group=own_group)

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
