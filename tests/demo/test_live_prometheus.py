"""A real multiprocess server, scraped by a real Prometheus under a job other
than "vidai" with the rules rendered for that job: every dashboard query and
rule returns data, no alert about the targets fires, and Prometheus agrees
with the status JSON."""

import asyncio
import json
import re
from pathlib import Path

import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from metrics.ops_assets import RULES_PATH, Config, write
from metrics.ops_assets.dashboard import panel_queries

from ..accounts import CONSULTATION_A, Accounts
from ..conftest import require_tool
from ..prometheus import LivePrometheus, run_prometheus
from ..servers import LiveServer
from ..workers import run_gunicorn

pytestmark = [pytest.mark.server, pytest.mark.system_tool]

JOB = "clinic-sockets"
CONFIG = Config(job=JOB)
VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "5m",
    "$cluster": ".*",
    "$namespace": ".*",
    "$job": JOB,
    "$instance": ".*",
    "$type": ".*",
}


def substitute(expr: str) -> str:
    """Fill Grafana's variables as the dashboard would with the job and All."""
    pattern = re.compile("|".join(re.escape(name) for name in VARIABLES))
    return pattern.sub(lambda match: VARIABLES[match.group(0)], expr)


def rules(path: Path) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def total(result: list[dict]) -> float:
    return sum(float(sample["value"][1]) for sample in result)


async def workload(server: LiveServer, accounts: Accounts) -> list:
    """Hold sockets of several types open; close, deny and fail some others."""
    ws, doctor = server.ws, accounts.handshake(server, "doctor")
    call, room = f"/ws/call/{CONSULTATION_A}/", f"/ws/stt/room/?consultation={CONSULTATION_A}"
    held = [await connect(ws + path, **doctor) for path in [call] * 3 + ["/ws/stt/"] * 2 + [room]]
    for stream in held[3:5]:
        await stream.send(b"\0" * 640)
        await stream.recv()
    for _ in range(3):  # short-lived calls, for the lifetime histogram
        async with connect(ws + call, **doctor) as short:
            await short.send('{"type": "offer", "sdp": "x"}')
    for path in ("/ws/stt/admin/", "/ws/no/such/route/"):
        with pytest.raises(InvalidStatus):
            await connect(ws + path, **doctor)
    async with connect(ws + "/ws/test/fail-receive/", **doctor) as failing:
        await failing.send("boom")
        with pytest.raises(ConnectionClosed):
            await failing.recv()
    return held


async def test_dashboard_and_rules_work_against_a_real_prometheus(
    sqlite_path: str, tmp_path: Path, accounts: Accounts
) -> None:
    prometheus = require_tool("prometheus")
    write(CONFIG, tmp_path)
    rule_file = tmp_path / RULES_PATH
    with (
        run_gunicorn(sqlite_path, workers=2, VIDAI_METRICS_CONNECTION_LIMIT="100") as gunicorn,
        run_prometheus(
            prometheus, [f"127.0.0.1:{gunicorn.server.port}"], [rule_file], job=JOB
        ) as prom,
    ):
        server = gunicorn.server
        await asyncio.to_thread(prom.wait_for, f'up{{job="{JOB}"}}', lambda r: total(r) == 1)
        held = await workload(server, accounts)
        try:
            await check_everything(prom, server, rules(rule_file))
        finally:
            for sock in held:
                await sock.close()


async def check_everything(prom: LivePrometheus, server, rules: list[dict]) -> None:
    # Scraped, recorded, and rated: the opens happened between scrapes.
    await asyncio.to_thread(
        prom.wait_for, "sum(vidai:websocket_connections:sum)", lambda r: total(r) == 6
    )
    await asyncio.to_thread(
        prom.wait_for,
        'sum(vidai:websocket_connections_closed:rate5m{reason="internal_error"})',
        lambda r: total(r) > 0,
    )

    # The SLO ratios over their longest window, and the handshake histogram, have data.
    await asyncio.to_thread(
        prom.wait_for, "vidai:websocket_handshake_errors:ratio_rate6h", lambda r: len(r) == 1
    )
    assert len(panel_queries(CONFIG)) >= 30
    assert len(rules) >= 30
    empty = [
        (title, expr) for title, expr in panel_queries(CONFIG) if not prom.query(substitute(expr))
    ]
    assert not empty, f"panels without data: {empty}"

    for rule in rules:
        prom.query(rule["expr"])  # parses and evaluates, or raises with Prometheus's error
        if "record" in rule:
            assert prom.query(rule["record"]), f"recording rule {rule['record']} has no data"
    groups = prom.api("rules")["groups"]
    assert {r.get("name") for g in groups for r in g["rules"]} >= {
        rule.get("record") or rule.get("alert") for rule in rules
    }
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
                 if r["health"] != "ok"]  # fmt: skip
    assert not unhealthy
    # Pending counts too: rendered for this job, no target alert even starts.
    active = {a["labels"]["alertname"] for a in prom.api("alerts")["alerts"]}
    target_alerts = {"TargetDown", "FleetDown", "TargetMissing", "MetricsMissing", "WorkerStale"}
    assert not active & {f"VidaiWebSocket{name}" for name in target_alerts}, active

    # Prometheus's counts equal the status JSON's.
    status, body = server.get("/consultation/socket-status/")
    assert status == 200
    document = json.loads(body)
    by_type = {
        sample["metric"]["type"]: float(sample["value"][1])
        for sample in prom.query(f'sum by (type) (vidai_websocket_connections{{job="{JOB}"}})')
    }
    for socket_type, count in document["sockets_by_type"].items():
        assert by_type[socket_type] == count, socket_type
    assert sum(by_type.values()) == document["total_sockets"] == 6
