"""/metrics access and the status JSON, through Django's test client."""

import json

import pytest
from django.conf import settings
from django.test import Client, override_settings

from metrics import SocketStatusService

from ..routing import TYPES
from ..servers import parse_samples, value

STATUS_URL = "/socket-status/"
LIST_URL = "/sockets/"


@pytest.fixture
def sockets():
    """Open sockets of several types through the facade; close them afterwards."""
    opened = []

    def open_socket(socket_type: str) -> None:
        socket_id = f"view-test-{len(opened)}"
        SocketStatusService.register_socket(socket_id, socket_type)
        opened.append(socket_id)

    yield open_socket
    for socket_id in opened:
        SocketStatusService.unregister_socket(socket_id)


def test_metrics_is_open_to_loopback_by_default(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert b"vidai_websocket_connections{" in response.content
    assert b"django_http_requests" in response.content  # django-prometheus alongside


def test_metrics_refuses_other_networks_by_default(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@override_settings(VIDAI_METRICS={"TOKEN": "s3cret"})
def test_metrics_requires_the_bearer_token_when_set(client: Client) -> None:
    missing = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401
    right = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret")
    assert right.status_code == 200


@override_settings(VIDAI_METRICS={"ALLOWED_NETWORKS": ["10.0.0.0/8"]})
def test_metrics_allowed_networks_are_honoured(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_negotiates_openmetrics_and_gzip(client: Client) -> None:
    response = client.get(
        "/metrics",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0",
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response["Content-Encoding"] == "gzip"


def test_status_json_has_the_documented_schema(client: Client) -> None:
    response = client.get(STATUS_URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "active", "total_sockets", "sockets_by_type", "timestamp", "ws_endpoints",
        "oldest_connection_age_seconds", "source",
    }  # fmt: skip
    assert body["active"] is True
    assert list(body["sockets_by_type"]) == list(TYPES)
    assert body["total_sockets"] == sum(body["sockets_by_type"].values())
    assert body["ws_endpoints"] == {
        "call": "/ws/call/<room>/",
        "stt": "/ws/stt/",
        "stt_room": "/ws/stt/rooms/<room>/",
        "stt_sales": "/ws/stt/sales/",
        "stt_admin": "/ws/stt/admin/",
    }
    assert body["source"] == "process"
    assert body["timestamp"].endswith("+00:00")


def test_status_json_and_metrics_agree(client: Client, sockets) -> None:
    for socket_type in ["call", "call", "stt_room", "stt", "stt_sales", "call"]:
        sockets(socket_type)
    body = client.get(STATUS_URL).json()
    samples = parse_samples(client.get("/metrics").content.decode())
    for socket_type in list(TYPES):
        assert body["sockets_by_type"][socket_type] == value(
            samples, "vidai_websocket_connections", type=socket_type
        )
    assert body["sockets_by_type"]["call"] >= 3
    assert body["oldest_connection_age_seconds"]["call"] >= 0
    assert body["total_sockets"] == sum(body["sockets_by_type"].values())


def test_status_etag_gives_304_until_the_counts_change(client: Client, sockets) -> None:
    first = client.get(STATUS_URL)
    etag = first["ETag"]
    assert etag.startswith('W/"')
    assert first["Cache-Control"] == "no-cache"
    unchanged = client.get(STATUS_URL, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    sockets("stt")
    changed = client.get(STATUS_URL, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_status_head_and_refused_methods(client: Client) -> None:
    client = Client(enforce_csrf_checks=True)  # as a browser meets the middleware
    head = client.head(STATUS_URL)
    assert head.status_code == 200
    assert head["Content-Type"] == "application/json"
    for method in ("POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"):
        response = client.generic(method, STATUS_URL)
        assert response.status_code == 405, method
        assert response["Allow"] == "GET, HEAD, OPTIONS", method


def test_status_json_carries_no_socket_details(client: Client, sockets) -> None:
    SocketStatusService.register_socket("patient-Jane-Doe", "stt_room", user_id=99)
    try:
        text = client.get(STATUS_URL).content.decode()
        assert "Jane" not in text
        assert "99" not in json.dumps(json.loads(text)["sockets_by_type"])
    finally:
        SocketStatusService.unregister_socket("patient-Jane-Doe")


@override_settings(
    VIDAI_METRICS={**settings.VIDAI_METRICS, "STATUS_CORS_ORIGINS": ["https://app.vidai.test"]}
)
def test_cors_allows_only_the_configured_origins(client: Client) -> None:
    allowed = client.get(STATUS_URL, HTTP_ORIGIN="https://app.vidai.test")
    assert allowed["Access-Control-Allow-Origin"] == "https://app.vidai.test"
    assert "ETag" in allowed["Access-Control-Expose-Headers"]
    assert "Origin" in allowed["Vary"]
    other = client.get(STATUS_URL, HTTP_ORIGIN="https://evil.test")
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other
    preflight = client.options(
        STATUS_URL,
        HTTP_ORIGIN="https://app.vidai.test",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Headers"] == "If-None-Match"


def test_no_cors_header_by_default(client: Client) -> None:
    response = client.get(STATUS_URL, HTTP_ORIGIN="https://app.vidai.test")
    assert "Access-Control-Allow-Origin" not in response


@override_settings(VIDAI_METRICS={**settings.VIDAI_METRICS, "STATUS_RATE_LIMIT": "3/60"})
def test_status_is_rate_limited_per_client(client: Client) -> None:
    codes = [client.get(STATUS_URL, REMOTE_ADDR="192.0.2.1").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(STATUS_URL, REMOTE_ADDR="192.0.2.1")
    assert 1 <= int(limited["Retry-After"]) <= 20
    assert client.get(STATUS_URL, REMOTE_ADDR="192.0.2.2").status_code == 200


@override_settings(
    VIDAI_METRICS={"ALLOWED_NETWORKS": ["192.0.2.0/24"], "TRUSTED_PROXIES": ["127.0.0.1/32"]}
)
def test_metrics_believes_forwarded_for_only_from_trusted_proxies(client: Client) -> None:
    via_proxy = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.4"}
    assert client.get("/metrics", **via_proxy).status_code == 200
    spoofed = {"REMOTE_ADDR": "198.51.100.9", "HTTP_X_FORWARDED_FOR": "192.0.2.4"}
    assert client.get("/metrics", **spoofed).status_code == 403


@override_settings(
    MIDDLEWARE=[*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
)
def test_endpoints_work_under_login_required_middleware(client: Client) -> None:
    assert client.get("/metrics").status_code == 200
    assert client.get(STATUS_URL).status_code == 200


@pytest.mark.django_db
def test_socket_list_is_for_staff_only(client: Client, django_user_model, sockets) -> None:
    sockets("call")
    assert client.get(LIST_URL).status_code == 403
    clinician = django_user_model.objects.create_user("clinician", password="pw-1")
    client.force_login(clinician)
    assert client.get(LIST_URL).status_code == 403
    staff = django_user_model.objects.create_user("staff", password="pw-2", is_staff=True)
    client.force_login(staff)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    listed = response.json()["sockets"]
    assert {"id", "type", "since", "age_seconds", "user_id"} == set(listed[0])
    assert any(sock["type"] == "call" and sock["id"].startswith("view-test-") for sock in listed)


def test_metrics_name_filter_selects_whole_families(client: Client) -> None:
    response = client.get(
        "/metrics?name[]=vidai_websocket_connections&name[]=process_resident_memory_bytes"
    )
    names = {
        line.split("{")[0].split(" ")[0]
        for line in response.content.decode().splitlines()
        if line and not line.startswith("#")
    }
    assert names == {"vidai_websocket_connections", "process_resident_memory_bytes"}
