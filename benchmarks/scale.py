"""The cost at scale: a foreign project served tracked and untracked by several workers.

``python -m benchmarks scale [--workers 2] [--sockets 10000] [--clients 2] [--rounds 3]``

``benchmarks.scale_project`` (two echo routes, ``track_rejections``, the status
JSON, the dedicated listener; the same routes untracked under ``/untracked/``)
is served by ``uvicorn --workers`` in multiprocess mode. Each round starts two
fresh servers, one per mode first (the order flipping every round). Client
processes (``benchmarks.scale_client``) open the sockets from source
addresses spread over 127.0.0.x. Per server, for its first mode:

- memory per open socket: (PSS of the server's process tree at N sockets -
  PSS after a warm-up at 0) / N, from ``/proc/<pid>/smaps_rollup`` (a fresh
  server: the allocator has not been grown by the other mode's sockets);
- with the sockets held (tracked rounds): ``/metrics`` on the listener and the
  status JSON on the app's port, latency of sequential requests, and the
  exactness checks (open gauge == N == the JSON's total, opened - closed ==
  open; 0 open after the close);
- closes per second, then churn: sessions (open, close) per second for
  ``CHURN_SECONDS``.

Then, on the heap those N sockets grew, a CPU pair: N/2 sockets of the other
mode, closed, N/2 through ``PassThrough`` (a middleware that only wraps
``receive`` and ``send``), then N/2 of the first mode: each phase's server
CPU per handshake from the CPU time of every thread of the tree
(``/proc/<pid>/task/*/schedstat``), and its handshakes per second from the
clients' own time (the slowest client's). The pages
a process's first N sockets touch are the heap growing (what the memory
figure measures), not what a handshake costs; a same-server pair leaves out
what two server processes differ by (hash seeds, memory layout).

Figures are medians over rounds with their spread (min-max); the CPU ratio
is the median of the same-server pairs' ratios with a bootstrap 95 % interval. Linux only,
loopback only, bounded in time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from . import Result, bootstrap_interval, median
from .scale_project import PASSTHROUGH_PREFIX, UNTRACKED_PREFIX
from .server_cpu import cpu_ns

ROOT = Path(__file__).resolve().parent.parent
STATUS_PATH = "/socket-status/"
WORKERS = 2
SOCKETS = 10_000
CLIENTS = 2
ROUNDS = 3
# Requests of each endpoint per tracked round, sequential; at least 1,000 per run.
LATENCY_REQUESTS = 350
CHURN_SECONDS = 1.5
SETTLE_SECONDS = 0.5  # for the servers' buffers and closes, between phases
CONCURRENCY = 64  # handshakes in flight per client process
MEMORY_TARGET = 1024.0  # bytes per open socket, tracked - untracked
CPU_TARGET = 1.02
STATUS_P99_TARGET_MS = 50.0
TIMEOUT = 120.0  # seconds for any one phase


@dataclass
class Parameters:
    """What to run: workers, sockets, client processes and rounds."""

    workers: int = WORKERS
    sockets: int = SOCKETS
    clients: int = CLIENTS
    rounds: int = ROUNDS


PARAMETERS = Parameters()


@dataclass
class Mode:
    """What the rounds of one mode measured."""

    name: str
    tracked: bool
    bytes_per_socket: list[float] = field(default_factory=list)
    handshakes_per_second: list[float] = field(default_factory=list)
    closes_per_second: list[float] = field(default_factory=list)
    churn_per_second: list[float] = field(default_factory=list)
    metrics_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


PASSTHROUGH = "pass-through"


@dataclass(frozen=True)
class CpuRound:
    """One server's CPU per handshake (us) of each stack, and the pass-through's rate."""

    tracked: float
    untracked: float
    passthrough: float
    passthrough_rate: float


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _pss_bytes(root: int) -> int:
    total = 0
    for pid in _tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


def _tree_cpu_ns(root: int) -> int:
    return sum(cpu_ns(pid) for pid in _tree(root))


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _timed_gets(port: int, path: str, count: int) -> list[float]:
    """Milliseconds per request of ``count`` sequential requests on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            conn.request("GET", path)
            answer = conn.getresponse()
            answer.read()
            times.append((time.perf_counter() - start) * 1e3)
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}")
    finally:
        conn.close()
    return times


def _samples(port: int) -> dict[str, float]:
    """Sums over labels of the exposed vidai_ samples, by sample name."""
    status, body = _get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name.startswith("vidai_websocket_connections"):
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def _wait(check: object, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            if check():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


class _Clients:
    """The client processes, each holding its share of the sockets."""

    def __init__(self, ws_base: str, sockets: int, count: int) -> None:
        shares = [sockets // count + (1 if n < sockets % count else 0) for n in range(count)]
        self._processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.scale_client",
                    ws_base,
                    str(share),
                    str(n * 97),
                    str(CONCURRENCY),
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n, share in enumerate(shares)
        ]

    def command(self, line: str) -> list[str]:
        """Send ``line`` to every client; return their answers' figures, in order."""
        for process in self._processes:
            assert process.stdin is not None
            process.stdin.write(line + "\n")
            process.stdin.flush()
        answers = []
        for process in self._processes:
            assert process.stdout is not None
            answer = process.stdout.readline().split()
            if len(answer) != 2:
                raise RuntimeError(f"a client failed at {line!r}")
            answers.append(answer[1])
        return answers

    def stop(self) -> None:
        for process in self._processes:
            with contextlib.suppress(OSError, ValueError):
                assert process.stdin is not None
                process.stdin.write("quit\n")
                process.stdin.close()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _server(workers: int) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    port, listen_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="vidai-scale-") as workdir:
        directory = Path(workdir) / "multiproc"
        directory.mkdir()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.scale_settings",
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
            "VIDAI_SCALE_LISTEN": f"127.0.0.1:{listen_port}",
        }
        command = [
            sys.executable, "-m", "uvicorn", "benchmarks.scale_project:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--http", "h11", "--backlog", "4096",
        ]  # fmt: skip
        log = (Path(workdir) / "server.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(lambda: _get(port, STATUS_PATH)[0] == 200, "the status JSON")
            _wait(lambda: _get(listen_port, "/metrics")[0] == 200, "the listener")
            _wait(lambda: len(_tree(process.pid)) >= workers + 1, "the workers")
            yield process, port, listen_port
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _open_phase(
    process: subprocess.Popen[bytes], clients: _Clients, sockets: int
) -> tuple[float, float]:
    """Open the clients' sockets; return the server tree's CPU per handshake (us), handshakes/s.

    The rate is from the clients' own time for their share, the slowest's.
    """
    cpu_before = _tree_cpu_ns(process.pid)
    seconds = max(float(s) for s in clients.command("open"))
    return (_tree_cpu_ns(process.pid) - cpu_before) / sockets / 1e3, sockets / seconds


def _round(first: Mode, second: Mode, pairs: list[CpuRound], params: Parameters) -> None:
    """One fresh server: ``first`` measured whole, then a CPU pair of both modes on it.

    ``pairs`` gets the same server's CPU per handshake of each stack, N/2
    sockets each once ``first``'s N sockets have grown its heap (see the
    module). ``second`` goes first, so the order flips with the server's; the
    pass-through goes between, at the mean position of the two.
    """
    with _server(params.workers) as (process, port, listen_port):
        ws_base = f"ws://127.0.0.1:{port}"
        urls = {
            mode.name: ws_base if mode.tracked else ws_base + UNTRACKED_PREFIX
            for mode in (first, second)
        }
        urls[PASSTHROUGH] = ws_base + PASSTHROUGH_PREFIX
        # Every client process starts at once; each set opens and closes in turn.
        warm_ups = [
            _Clients(url, min(params.sockets, 200 * params.workers), params.clients)
            for url in urls.values()
        ]
        try:
            for warm in warm_ups:
                warm.command("open")
                warm.command("close")
        finally:
            for warm in warm_ups:
                warm.stop()
        clients = _Clients(urls[first.name], params.sockets, params.clients)
        try:
            time.sleep(SETTLE_SECONDS)  # while the clients start
            pss_empty = _pss_bytes(process.pid)
            clients.command("open")
            time.sleep(SETTLE_SECONDS)  # let the servers settle their buffers
            first.bytes_per_socket.append((_pss_bytes(process.pid) - pss_empty) / params.sockets)
            if first.tracked:
                _check_held(first, port, listen_port, params.sockets)
                first.metrics_ms.extend(_timed_gets(listen_port, "/metrics", LATENCY_REQUESTS))
                first.status_ms.extend(_timed_gets(port, STATUS_PATH, LATENCY_REQUESTS))
            closed = max(float(s) for s in clients.command("close"))
            first.closes_per_second.append(params.sockets / closed)
            if first.tracked:
                _check_closed(first, listen_port)
            churned = sum(int(s) for s in clients.command(f"churn {CHURN_SECONDS}"))
            first.churn_per_second.append(churned / CHURN_SECONDS)
        finally:
            clients.stop()
        measured: dict[str, tuple[float, float]] = {}
        pair_sockets = max(1, params.sockets // 2)
        for name in (second.name, PASSTHROUGH, first.name):
            clients = _Clients(urls[name], pair_sockets, params.clients)
            try:
                time.sleep(SETTLE_SECONDS)  # while the clients start
                measured[name] = _open_phase(process, clients, pair_sockets)
                clients.command("close")
            finally:
                clients.stop()
        for mode in (first, second):
            mode.handshakes_per_second.append(measured[mode.name][1])
        pairs.append(
            CpuRound(
                tracked=measured["tracked"][0],
                untracked=measured["untracked"][0],
                passthrough=measured[PASSTHROUGH][0],
                passthrough_rate=measured[PASSTHROUGH][1],
            )
        )


def _check_held(mode: Mode, port: int, listen_port: int, sockets: int) -> None:
    samples = _samples(listen_port)
    gauge = samples.get("vidai_websocket_connections", -1)
    balance = samples.get("vidai_websocket_connections_opened_total", 0) - samples.get(
        "vidai_websocket_connections_closed_total", 0
    )
    if gauge != sockets:
        mode.problems.append(f"open gauge {gauge:.0f} with {sockets} held")
    if balance != gauge:
        mode.problems.append(f"opened - closed = {balance:.0f}, open gauge {gauge:.0f}")
    deadline = time.monotonic() + 3  # the JSON is at most one refresh interval old
    while True:
        total = json.loads(_get(port, STATUS_PATH)[1])["total_sockets"]
        if total == sockets or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if total != sockets:
        mode.problems.append(f"status JSON total {total} with {sockets} held")


def _check_closed(mode: Mode, listen_port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        samples = _samples(listen_port)
        gauge = samples.get("vidai_websocket_connections", -1)
        if gauge == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    balance = samples.get("vidai_websocket_connections_opened_total", 0) - samples.get(
        "vidai_websocket_connections_closed_total", 0
    )
    if gauge != 0 or balance != 0:
        mode.problems.append(
            f"after the close: open gauge {gauge:.0f}, opened - closed {balance:.0f}"
        )


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latency(values: list[float]) -> str:
    return (
        f"median {median(values):.1f} ms, p99 {_percentile(values, 0.99):.1f} ms, "
        f"max {max(values):.1f} ms over {len(values)}"
    )


def run(params: Parameters | None = None) -> list[Result]:
    """Serve the project tracked and untracked in alternating rounds; compare."""
    params = params or PARAMETERS
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    if hard < params.sockets // max(1, params.clients) + 1024:
        raise RuntimeError(f"RLIMIT_NOFILE's hard limit {hard} is too low for the sockets")
    tracked, untracked = Mode("tracked", tracked=True), Mode("untracked", tracked=False)
    pairs: list[CpuRound] = []
    for n in range(params.rounds):
        order = (tracked, untracked) if n % 2 == 0 else (untracked, tracked)
        _round(order[0], order[1], pairs, params)
        _round(order[1], order[0], pairs, params)
    scale = f"{params.sockets} sockets, {params.workers} workers, {params.rounds} rounds"
    added = [
        t - u for t, u in zip(tracked.bytes_per_socket, untracked.bytes_per_socket, strict=True)
    ]
    ratios = [cpu.tracked / cpu.untracked for cpu in pairs]
    low, high = bootstrap_interval(ratios)
    exact = not tracked.problems
    return [
        Result(
            benchmark=f"11a. scale: server memory per open socket, tracked - untracked ({scale})",
            measured=f"tracked {_spread(tracked.bytes_per_socket)} B; per round "
            + ", ".join(f"{a:+.0f}" for a in added),
            baseline=f"untracked {_spread(untracked.bytes_per_socket)} B",
            figure=median(added),
            unit="B",
            target=MEMORY_TARGET,
        ),
        Result(
            benchmark=f"11b. scale: server CPU per handshake, tracked/untracked ({scale})",
            measured=f"tracked {_spread([cpu.tracked for cpu in pairs])} us; 95% CI of the ratio "
            f"{low:.3f}-{high:.3f} over {len(pairs)} same-server pairs of "
            f"{max(1, params.sockets // 2)} handshakes; "
            f"{_spread(tracked.handshakes_per_second)} handshakes/s",
            baseline=f"untracked {_spread([cpu.untracked for cpu in pairs])} us; "
            f"{_spread(untracked.handshakes_per_second)} handshakes/s",
            figure=median(ratios),
            unit="x",
            target=CPU_TARGET,
        ),
        Result(
            benchmark="11c. scale: closes/s and churn sessions/s (info)",
            measured=f"tracked {_spread(tracked.closes_per_second)} closes/s, "
            f"{_spread(tracked.churn_per_second)} sessions/s",
            baseline=f"untracked {_spread(untracked.closes_per_second)} closes/s, "
            f"{_spread(untracked.churn_per_second)} sessions/s",
            figure=median(tracked.churn_per_second) / median(untracked.churn_per_second),
            unit="x",
            target=None,
        ),
        Result(
            benchmark="11d. scale: status JSON p99 while the sockets are held",
            measured=_latency(tracked.status_ms),
            baseline="/metrics on the listener: " + _latency(tracked.metrics_ms),
            figure=_percentile(tracked.status_ms, 0.99),
            unit="ms",
            target=STATUS_P99_TARGET_MS,
        ),
        Result(
            benchmark="11e. scale: exact counts (gauge == N == JSON, opened - closed, 0 after)",
            measured="exact in every round" if exact else "; ".join(tracked.problems),
            baseline=f"{params.rounds} tracked rounds",
            figure=float(len(tracked.problems)),
            unit="problems",
            target=0.0,
        ),
        Result(
            benchmark="11f. scale: server CPU per handshake, a pass-through middleware/untracked "
            "(info)",
            measured=f"pass-through {_spread([cpu.passthrough for cpu in pairs])} us, "
            f"{_spread([cpu.passthrough_rate for cpu in pairs])} handshakes/s; "
            f"tracked/pass-through {median([cpu.tracked / cpu.passthrough for cpu in pairs]):.3f}x",
            baseline=f"untracked {_spread([cpu.untracked for cpu in pairs])} us, the same servers",
            figure=median([cpu.passthrough / cpu.untracked for cpu in pairs]),
            unit="x",
            target=None,
        ),
    ]
