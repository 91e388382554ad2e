"""A real Prometheus on loopback, scraping a test server every second."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import ROOT, answers, free_port, running

RULES = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))


def config(targets: list[str], rule_files: list[Path], job: str = "vidai") -> str:
    """A Prometheus config scraping ``targets`` as ``job`` every second."""
    return json.dumps(  # JSON is YAML, and needs no YAML library here
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": targets}],
                }
            ],
        },
        indent=2,
    )


@dataclass
class LivePrometheus:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def api(self, path: str, **params: str) -> Any:
        """Call the HTTP API; return ``data`` or raise with Prometheus's error."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant query; return its vector (or scalar as one sample)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expr: str, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr!r} did not satisfy the condition: {result}")
            time.sleep(0.25)


@contextlib.contextmanager
def run_prometheus(
    prometheus: str, targets: list[str], rule_files: list[Path] = RULES, job: str = "vidai"
) -> Iterator[LivePrometheus]:
    """Start Prometheus with a temp data dir, wait until ready, stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="prometheus-") as workdir:
        work = Path(workdir)
        (work / "prometheus.yml").write_text(config(targets, rule_files, job))
        port = free_port()
        log_path = work / "prometheus.log"
        command = [
            prometheus,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ]

        def ready() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as answer:
                return bool(answer.status == 200)

        with running(
            "prometheus", command, ready=lambda: answers(ready), log_path=log_path
        ) as process:
            yield LivePrometheus(port, process, log_path)
