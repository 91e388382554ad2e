"""Scrape latency with the serving event loop saturated: the dedicated listener vs the app's port.

One uvicorn serves Vidai's stack with ``VIDAI_METRICS_LISTEN`` set; a separate
process (``benchmarks.load``) keeps ``CLIENTS`` sockets churning through it.
Once the app's own port answers slowly (the loop is saturated), ``SCRAPES``
scrapes of the listener and then ``APP_SCRAPES`` of the app's ``/metrics``
are timed one after another, under the same load. Loopback only.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import Result

TARGET_MS = 250.0
CLIENTS = 200
SCRAPES = 200
APP_SCRAPES = 50
TOKEN = "benchmark-token"


def _scrape_seconds(url: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - start


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


def _ms(latencies: list[float]) -> str:
    return (
        f"p50 {statistics.median(latencies) * 1e3:.1f} ms, p99 {_p99(latencies) * 1e3:.1f} ms, "
        f"max {max(latencies) * 1e3:.1f} ms over {len(latencies)}"
    )


def run() -> list[Result]:
    """Time scrapes of the listener and of the app's port under the same churn."""
    from tests.accounts import login, seed
    from tests.servers import ROOT, free_port, migrate, run_server

    port = free_port()
    listener_url = f"http://127.0.0.1:{port}/metrics"
    with tempfile.TemporaryDirectory(prefix="vidai-bench-") as workdir:
        sqlite_path = str(Path(workdir) / "bench.sqlite3")
        migrate(sqlite_path)
        seed(sqlite_path)
        with run_server(
            "uvicorn",
            sqlite_path,
            app="benchmarks.served_apps:tracked",
            VIDAI_METRICS_LISTEN=f"127.0.0.1:{port}",
            VIDAI_METRICS_TOKEN=TOKEN,
            VIDAI_SOCKETS_PER_USER="0",  # every client is the same user
        ) as server:
            session = login(server, "doctor")
            load = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.load", server.ws + "/ws/stt/",
                 "--clients", str(CLIENTS), "--seconds", "600",
                 "--header", f"Cookie:sessionid={session}", "--header", f"Origin:{server.http}"],
                cwd=ROOT, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 60
                while _scrape_seconds(server.http + "/metrics") < 0.1:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the load never slowed the app's port down")
                listener = [_scrape_seconds(listener_url) for _ in range(SCRAPES)]
                app = [_scrape_seconds(server.http + "/metrics") for _ in range(APP_SCRAPES)]
                if load.poll() is not None:
                    raise RuntimeError("the load ended before the scrapes did")
            finally:
                load.terminate()
                load.wait(timeout=30)
    return [
        Result(
            benchmark="9. /metrics p99 on the dedicated listener, event loop saturated",
            measured=_ms(listener),
            baseline=f"app's port, same load: {_ms(app)}",
            figure=_p99(listener) * 1e3,
            unit="ms",
            target=TARGET_MS,
        ),
        Result(
            benchmark="9b. /metrics p99 on the app's port, same load (info)",
            measured=_ms(app),
            baseline="-",
            figure=_p99(app) * 1e3,
            unit="ms",
            target=None,
        ),
    ]
