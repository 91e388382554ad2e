"""The real server, scraped by a real Prometheus with the bundled rules: every
dashboard query and rule returns data, and Prometheus agrees with the status JSON."""

import asyncio
import json
import re
from pathlib import Path

import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from grafana.dashboard import panel_queries

from .accounts import CONSULTATION_A, Accounts
from .conftest import require_tool
from .prometheus import RULES, LivePrometheus, run_prometheus
from .servers import LiveServer, run_server

pytestmark = [pytest.mark.server, pytest.mark.system_tool]

VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "5m",
    "$job": "vidai",
    "$instance": ".*",
    "$type": ".*",
}


def substitute(expr: str) -> str:
    """Fill Grafana's variables as the dashboard would with job=vidai and All."""
    pattern = re.compile("|".join(re.escape(name) for name in VARIABLES))
    return pattern.sub(lambda match: VARIABLES[match.group(0)], expr)


def rules() -> list[dict]:
    found = []
    for path in RULES:
        for group in yaml.safe_load(Path(path).read_text())["groups"]:
            found.extend(group["rules"])
    return found


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
    sqlite_path: str, accounts: Accounts
) -> None:
    prometheus = require_tool("prometheus")
    with (
        run_server("uvicorn", sqlite_path) as server,
        run_prometheus(prometheus, [f"127.0.0.1:{server.port}"]) as prom,
    ):
        await asyncio.to_thread(prom.wait_for, 'up{job="vidai"}', lambda r: total(r) == 1)
        held = await workload(server, accounts)
        try:
            await check_everything(prom, server)
        finally:
            for sock in held:
                await sock.close()


async def check_everything(prom: LivePrometheus, server) -> None:
    # Scraped, recorded, and rated: the opens happened between scrapes.
    await asyncio.to_thread(
        prom.wait_for, "sum(vidai:websocket_connections:sum)", lambda r: total(r) == 6
    )
    await asyncio.to_thread(
        prom.wait_for,
        'sum(vidai:websocket_connections_closed:rate5m{reason="internal_error"})',
        lambda r: total(r) > 0,
    )

    assert len(panel_queries()) >= 20
    assert len(rules()) >= 15
    empty = [(title, expr) for title, expr in panel_queries() if not prom.query(substitute(expr))]
    assert not empty, f"panels without data: {empty}"

    for rule in rules():
        prom.query(rule["expr"])  # parses and evaluates, or raises with Prometheus's error
        if "record" in rule:
            assert prom.query(rule["record"]), f"recording rule {rule['record']} has no data"
    groups = prom.api("rules")["groups"]
    assert {r.get("name") for g in groups for r in g["rules"]} >= {
        rule.get("record") or rule.get("alert") for rule in rules()
    }
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
                 if r["health"] != "ok"]  # fmt: skip
    assert not unhealthy
    firing = [a["labels"]["alertname"] for a in prom.api("alerts")["alerts"]]
    assert "VidaiWebSocketTargetDown" not in firing

    # Prometheus's counts equal the status JSON's.
    status, body = server.get("/consultation/socket-status/")
    assert status == 200
    document = json.loads(body)
    by_type = {
        sample["metric"]["type"]: float(sample["value"][1])
        for sample in prom.query('sum by (type) (vidai_websocket_connections{job="vidai"})')
    }
    for socket_type, count in document["sockets_by_type"].items():
        assert by_type[socket_type] == count, socket_type
    assert sum(by_type.values()) == document["total_sockets"] == 6
