"""The demo served by a real uvicorn exposes what promtool accepts."""

import subprocess

import pytest

from ..conftest import require_tool
from ..servers import run_server


@pytest.mark.server
def test_promtool_accepts_a_real_servers_metrics(sqlite_path: str) -> None:
    with run_server("uvicorn", sqlite_path) as server:
        server.get("/consultation/socket-status/")
        status, body = server.get("/metrics")
    assert status == 200
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
