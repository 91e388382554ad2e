"""Which server runs a process, and telling workers that count apart."""

import os
import subprocess
import sys
import time

import pytest
from prometheus_client import CollectorRegistry

from metrics import label_values
from metrics.core.servers import SERVERS, ServerInfoCollector, _configured_workers, server_name
from metrics.multiprocess.processes import alive, start_ticks


def test_every_known_server_is_a_label_value_of_the_contract() -> None:
    assert {*SERVERS, label_values.UNKNOWN_SERVER} == set(label_values.SERVER_NAMES)


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_process_serving_under_a_server_names_it(server: str) -> None:
    # A fresh interpreter that has loaded the server's module, as its workers have.
    code = f"import {SERVERS[server][0]}, metrics.core.servers as s; print(s.server_name())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == server


def test_daphne_in_installed_apps_does_not_make_a_uvicorn_process_daphne() -> None:
    # Channels asks for "daphne" in INSTALLED_APPS; its app config imports daphne.server.
    code = "import daphne.server, uvicorn.config, metrics.core.servers as s; print(s.server_name())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "uvicorn"


def test_the_info_gauge_names_one_server() -> None:
    registry = CollectorRegistry()
    registry.register(ServerInfoCollector())
    assert registry.get_sample_value("vidai_websocket_server_info", {"server": server_name()}) == 1


@pytest.mark.parametrize(
    ("argv", "workers"),
    [
        (["uvicorn", "app:app", "--workers", "4"], 4),
        (["hypercorn", "-w", "3", "app:app"], 3),
        (["granian", "app:app", "--workers=2"], 2),
        (["gunicorn", "app:app"], 0),
        (["uvicorn", "app:app", "--workers"], 0),
        (["gunicorn", "-w4", "app:app"], 4),
    ],
)
def test_the_configured_worker_count_is_read_from_the_command_line(argv, workers) -> None:
    assert _configured_workers(argv) == workers


def test_a_process_is_its_pid_and_start_time() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        started = start_ticks(child.pid)
        assert started is not None
        assert alive(child.pid, started)
        assert alive(child.pid, None)
        assert not alive(child.pid, started + 1)  # the pid reused by a later process
    finally:
        child.kill()
        # Killed but not yet reaped: a zombie, gone all the same.
        deadline = time.monotonic() + 5
        while start_ticks(child.pid) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not alive(child.pid, started)
        child.wait()
    assert start_ticks(child.pid) is None
    assert alive(os.getpid(), start_ticks(os.getpid()))
