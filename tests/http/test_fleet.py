"""The fleet view: the status JSON reads every instance's counts from Prometheus.

These tests answer the HTTP API from a small server on loopback with canned
query results, to pin parsing, caching and fallback; ``test_redis.py`` runs
the same path against a real Prometheus scraping two real servers.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client, override_settings

from metrics.http.fleet import PrometheusFleet, default_fleet, fleet_query, parse_reading

STATUS_URL = "/socket-status/"


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {
        "resultType": "vector",
        "result": [{"metric": labels, "value": [1.7e9, text]} for labels, text in series],
    }


TWO_INSTANCES = vector(
    ({"type": "call", "vidai_part": "open"}, "5"),
    ({"type": "stt", "vidai_part": "open"}, "0"),
    ({"type": "call", "vidai_part": "oldest"}, "1700000000.5"),
    ({"type": "stt", "vidai_part": "oldest"}, "+Inf"),
    ({"instance": "a:8000", "job": "vidai", "vidai_part": "up"}, "1"),
    ({"instance": "b:8000", "job": "vidai", "vidai_part": "up"}, "0"),
)


class FakePrometheus:
    """Answers /api/v1/query with ``data``, and records each query it was sent."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.queries: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                fake.queries.append(urllib.parse.parse_qs(url.query)["query"][0])
                body = json.dumps({"status": "success", "data": fake.data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus(TWO_INSTANCES)
    try:
        yield fake
    finally:
        fake.stop()


@contextlib.contextmanager
def fleet_settings(url: str, **extra: object) -> Iterator[None]:
    from django.conf import settings

    config = {**settings.VIDAI_METRICS, "STATUS_SOURCE": "prometheus", "PROMETHEUS_URL": url}
    with override_settings(VIDAI_METRICS={**config, **extra}):
        yield


def poll_status(client: Client, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        document = client.get(STATUS_URL).json()
        if predicate(document):
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"status never satisfied the condition: {document}")
        time.sleep(0.02)


def test_one_query_sums_counts_and_takes_the_oldest_start_over_the_job() -> None:
    query = fleet_query('vi"dai')
    assert 'sum by (type) (vidai_websocket_connections{job="vi\\"dai"})' in query
    assert (
        'min by (type) (vidai_websocket_oldest_connection_start_time_seconds{job="vi\\"dai"})'
        in (query)
    )
    assert 'up{job="vi\\"dai"}' in query
    reading = parse_reading(TWO_INSTANCES, fetched_at=5.0)
    assert reading.summary.counts == {"call": 5, "stt": 0}
    assert reading.summary.oldest_start == {"call": 1700000000.5, "stt": None}
    assert (reading.summary.instances, reading.summary.instances_up) == (2, 1)


def test_readings_are_cached_and_refreshed_off_the_request_path(prometheus) -> None:
    now = [100.0]
    fleet = PrometheusFleet(prometheus.url, "vidai", ttl=2.0, clock=lambda: now[0])
    assert fleet.reading() is None  # nothing yet: the caller shows local numbers
    deadline = time.monotonic() + 5
    while (reading := fleet.reading()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reading is not None
    assert reading.summary.counts["call"] == 5
    for _ in range(50):
        assert fleet.reading() is reading
    assert len(prometheus.queries) == 1
    assert "vidai_part" in prometheus.queries[0]
    now[0] += 2.0  # due again: the old reading is served while the new one comes
    assert fleet.reading() is reading
    deadline = time.monotonic() + 5
    while len(prometheus.queries) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(prometheus.queries) == 2


def test_a_prometheus_that_does_not_answer_gives_no_reading(prometheus) -> None:
    prometheus.stop()
    fleet = PrometheusFleet(prometheus.url, "vidai", timeout=0.5)
    assert fleet.fetch() is None


@pytest.mark.django_db
def test_status_json_shows_the_fleet_then_falls_back_when_prometheus_stops(prometheus) -> None:
    client = Client()
    with fleet_settings(prometheus.url, FLEET_CACHE_SECONDS=0.1):
        assert default_fleet() is not None
        fleet = poll_status(client, lambda d: d["source"] == "prometheus")
        assert fleet["sockets_by_type"]["call"] == 5
        assert fleet["total_sockets"] == sum(fleet["sockets_by_type"].values()) == 5
        assert fleet["oldest_connection_age_seconds"]["stt"] is None
        assert fleet["active"] is True  # one instance of two is up

        prometheus.data = vector(({"instance": "a:8000", "vidai_part": "up"}, "0"))
        down = poll_status(client, lambda d: d["total_sockets"] == 0)
        assert down["source"] == "prometheus"
        assert down["active"] is False  # no instance is up

        prometheus.stop()
        local = poll_status(client, lambda d: d["source"] != "prometheus")
    assert local["source"] == "process"
    assert local["active"] is True
    assert default_fleet() is None  # back to the test settings: local numbers
