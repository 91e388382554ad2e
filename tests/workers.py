"""A real gunicorn with uvicorn workers, and a real redis-server, on loopback, for tests."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict

from .servers import ROOT, STATUS_PATH, LiveServer, answers, free_port, running, server_env


@dataclass
class Gunicorn:
    """A running gunicorn master, its server address and its multiprocess directory."""

    server: LiveServer
    directory: Path

    def worker_pids(self) -> set[int]:
        """Live workers whose tracker has written all its files (the last ones at boot)."""
        files = set(self.files())
        pids = {int(name[: -len(".db")].rsplit("_", 1)[1]) for name in files if "liveall" in name}
        kinds = ("counter", "histogram", "gauge_livesum", "gauge_livemin", "gauge_liveall")
        return {pid for pid in pids if all(f"{kind}_{pid}.db" in files for kind in kinds)}

    def files(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(path.name for path in self.directory.iterdir())

    def open_by_worker(self, socket_type: str) -> dict[int, float]:
        """Each live worker's own open-socket count for a type, read from its gauge file."""
        counts = {}
        for path in self.directory.glob("gauge_livesum_*.db"):
            pid = int(path.stem.rsplit("_", 1)[1])
            with contextlib.suppress(FileNotFoundError):
                for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
                    name, _sample, labels, _help = json.loads(key)
                    if name == "vidai_websocket_connections" and labels["type"] == socket_type:
                        counts[pid] = value
        return counts

    def wait_for_workers(self, count: int, *, not_in: set[int] = frozenset(), timeout: float = 30):
        """Wait until ``count`` booted workers exist, none of them in ``not_in``."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.worker_pids()
            if len(pids) == count and not pids & not_in:
                return pids
            if self.server.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"workers {pids}, wanted {count} new:\n{self.server.log()}")
            time.sleep(0.05)


@contextlib.contextmanager
def run_gunicorn(sqlite_path: str, *, workers: int = 3, **env: str) -> Iterator[Gunicorn]:
    """Start gunicorn with the project's gunicorn.conf.py and the test app; stop it afterwards.

    ``--preload`` makes a replacement worker a fork of a loaded app, so restarts are quick.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vidai-gunicorn-") as workdir:
        directory = Path(workdir) / "multiproc"
        log_path = Path(workdir) / "gunicorn.log"
        full_env = server_env(sqlite_path, PROMETHEUS_MULTIPROC_DIR=str(directory), **env)
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--preload",
            "--no-control-socket", "--graceful-timeout", "5", "tests.asgi_app:application",
        ]  # fmt: skip
        probe = Gunicorn(LiveServer("gunicorn", port, None, log_path, full_env), directory)  # type: ignore[arg-type]

        def ready() -> bool:
            booted = len(probe.worker_pids()) == workers
            return booted and answers(lambda: probe.server.get(STATUS_PATH)[0] == 200)

        with running(
            "gunicorn", command, ready=ready, log_path=log_path, env=full_env, timeout=60
        ) as process:
            yield Gunicorn(LiveServer("gunicorn", port, process, log_path, full_env), directory)


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes]
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def run_redis(
    redis_server: str, *, password: str | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[Redis]:
    """Start a throwaway redis-server on loopback (no persistence); stop it afterwards.

    With ``password``, clients must authenticate (``requirepass``); with
    ``tls`` (certificate and key files), it speaks TLS only.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vidai-redis-") as workdir:
        listen = ["--port", str(port)]
        if tls:
            listen = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tls[0]),
                      "--tls-key-file", str(tls[1]), "--tls-auth-clients", "no"]  # fmt: skip
        command = [
            redis_server, *listen, "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir,
            *(["--requirepass", password] if password else []),
        ]  # fmt: skip
        auth = f"AUTH {password}\r\n".encode() if password else b""

        def ready() -> bool:
            with contextlib.ExitStack() as stack:
                conn = stack.enter_context(socket.create_connection(("127.0.0.1", port), 1))
                if tls:  # readiness only: the client under test verifies the certificate
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                    conn = stack.enter_context(context.wrap_socket(conn))
                conn.sendall(auth + b"PING\r\n")
                return b"+PONG" in conn.recv(64)

        with running("redis-server", command, ready=lambda: answers(ready), timeout=15) as process:
            yield Redis(port, process, tls=tls is not None)
