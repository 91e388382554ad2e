"""Many hosts: two servers sharing a real Redis, scraped by a real Prometheus.

Each server stands for one host: its own process and port, the channel
layer on the same redis-server, the status JSON reading the fleet from
Prometheus (``VIDAI_STATUS_SOURCE=prometheus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..accounts import CONSULTATION_A, Accounts, login, logout
from ..conftest import require_tool
from ..prometheus import run_prometheus
from ..servers import LiveServer, free_port, run_server, value
from ..workers import run_redis
from .conftest import VIDAI_TYPES

pytestmark = [pytest.mark.server, pytest.mark.system_tool]

OPEN = "vidai_websocket_connections"
CLOSED = "vidai_websocket_connections_closed_total"


def status(server: LiveServer) -> dict[str, Any]:
    code, body = server.get("/consultation/socket-status/")
    assert code == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def wait_for_status(server: LiveServer, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        document = status(server)
        if predicate(document):
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"status never satisfied the condition: {document}")
        time.sleep(0.1)


def local_counts(server: LiveServer) -> dict[str, int]:
    samples = server.scrape()
    return {t: int(value(samples, OPEN, type=t)) for t in VIDAI_TYPES}


async def test_two_hosts_share_call_rooms_and_report_one_fleet(
    sqlite_path: str, accounts: Accounts
) -> None:
    redis_server = require_tool("redis-server")
    prometheus = require_tool("prometheus")
    ports = [free_port(), free_port()]
    targets = [f"127.0.0.1:{port}" for port in ports]
    with (
        run_redis(redis_server) as redis,
        run_prometheus(prometheus, targets, rule_files=[]) as prom,
    ):
        env = {
            "REDIS_URL": redis.url,
            "VIDAI_STATUS_SOURCE": "prometheus",
            "VIDAI_PROMETHEUS_URL": prom.url,
        }
        with (
            run_server("uvicorn", sqlite_path, port=ports[0], **env) as first,
            run_server("uvicorn", sqlite_path, port=ports[1], **env) as second,
        ):
            # A call room across both hosts relays signals both ways through Redis.
            call = f"/ws/call/{CONSULTATION_A}/"
            async with (
                connect(first.ws + call, **accounts.handshake(first, "doctor")) as doctor,
                connect(second.ws + call, **accounts.handshake(second, "patient")) as patient,
            ):
                await doctor.send(json.dumps({"type": "offer", "sdp": "from-first"}))
                assert json.loads(await asyncio.wait_for(patient.recv(), 5)) == {
                    "type": "offer",
                    "sdp": "from-first",
                }
                await patient.send(json.dumps({"type": "answer", "sdp": "from-second"}))
                assert json.loads(await asyncio.wait_for(doctor.recv(), 5)) == {
                    "type": "answer",
                    "sdp": "from-second",
                }

                plain, staff = (
                    accounts.handshake(second, "plain"),
                    accounts.handshake(first, "staff"),
                )
                extra = [await connect(second.ws + "/ws/stt/", **plain) for _ in range(3)]
                extra.append(await connect(first.ws + "/ws/stt/sales/", **staff))
                try:
                    expected = {t: 0 for t in VIDAI_TYPES} | {
                        "call": 2,
                        "stt": 3,
                        "stt_sales": 1,
                    }
                    hosts = [local_counts(first), local_counts(second)]
                    assert {t: hosts[0][t] + hosts[1][t] for t in VIDAI_TYPES} == expected
                    assert hosts[0]["call"] == hosts[1]["call"] == 1

                    # Each host's JSON shows the fleet: the sum over both, from Prometheus.
                    for server in (first, second):
                        fleet = await asyncio.to_thread(
                            wait_for_status,
                            server,
                            lambda d: (
                                d["source"] == "prometheus"
                                and {t: d["sockets_by_type"][t] for t in VIDAI_TYPES} == expected
                            ),
                        )
                        assert fleet["total_sockets"] == sum(expected.values())
                        assert fleet["active"] is True
                        assert fleet["oldest_connection_age_seconds"]["call"] >= 0
                        assert fleet["oldest_connection_age_seconds"]["stt_room"] is None

                    # Prometheus stops: each host falls back to its own numbers.
                    prom.process.terminate()
                    await asyncio.to_thread(prom.process.wait, 15)
                    for server, own in ((first, hosts[0]), (second, hosts[1])):
                        local = await asyncio.to_thread(
                            wait_for_status, server, lambda d: d["source"] == "process"
                        )
                        assert {t: local["sockets_by_type"][t] for t in VIDAI_TYPES} == own
                        assert local["active"] is True
                    # Idle consumers waited on Redis all along without crashing.
                    for server in (first, second):
                        crashed = [
                            (name, dict(labels))
                            for (name, labels), count in server.scrape().items()
                            if name == CLOSED and ("reason", "internal_error") in labels and count
                        ]
                        assert not crashed, crashed
                finally:
                    for client in extra:
                        with contextlib.suppress(Exception):
                            await client.close()


async def test_a_logout_on_one_host_closes_the_sessions_sockets_on_another(
    sqlite_path: str,
) -> None:
    redis_server = require_tool("redis-server")
    with (
        run_redis(redis_server) as redis,
        run_server("uvicorn", sqlite_path, REDIS_URL=redis.url) as first,
        run_server("daphne", sqlite_path, REDIS_URL=redis.url) as second,
    ):
        session = await asyncio.to_thread(login, first, "staff")
        options = {"origin": second.http, "additional_headers": {"Cookie": f"sessionid={session}"}}
        async with connect(second.ws + "/ws/stt/admin/", **options) as admin:
            assert json.loads(await admin.recv()) == {"type": "welcome", "feed": "admin"}
            await asyncio.to_thread(logout, first, session)
            logged_out = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                # Nothing else is sent on this feed; the wait is bounded.
                await asyncio.wait_for(admin.recv(), 15)
            # "Within seconds", with room for a busy machine: the re-check is 60 s.
            assert time.monotonic() - logged_out < 10
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
        samples = await asyncio.to_thread(
            second.wait_for, lambda s: value(s, OPEN, type="stt_admin") == 0
        )
        assert value(samples, CLOSED, type="stt_admin", reason="application",
                     initiator="server") == 1  # fmt: skip
