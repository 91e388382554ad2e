import logging

import pytest

from metrics.contrib.redaction import RedactSocketPaths, redact

from ..routing import websocket_urlpatterns


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"WebSocket /ws/stt/?role=doctor&name=Jane" [accepted]',
         '"WebSocket /ws/stt/?[redacted]" [accepted]'),
        ('"WebSocket /ws/call/Jane-Doe-room/" 403', '"WebSocket /ws/call/<room>/" 403'),
        ('"WebSocket /ws/anything/Jane/?x=1" 403', '"WebSocket [unrouted path]" 403'),
    ],
)  # fmt: skip
def test_websocket_paths_become_route_templates(line: str, expected: str) -> None:
    assert redact(line, websocket=True, routes=websocket_urlpatterns) == expected


def test_http_paths_only_lose_their_query_strings() -> None:
    line = '"GET /socket-status/?name=Jane HTTP/1.1" 200'
    assert redact(line) == '"GET /socket-status/?[redacted] HTTP/1.1" 200'
    assert redact("GET /metrics 200") == "GET /metrics 200"


def test_filter_rewrites_message_and_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/call/Jane%20Doe/?name=Jane%20Doe"), None,
    )  # fmt: skip
    assert RedactSocketPaths().filter(record) is True
    assert "Jane" not in record.getMessage()
    assert (
        record.getMessage() == '127.0.0.1:5000 - "WebSocket /ws/call/<room>/?[redacted]" [accepted]'
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /ws/call/Jane-Doe-room/ HTTP/1.1" 404', '"GET /ws/call/<room>/ HTTP/1.1" 404'),
        ('"GET /ws/call/Jane/extra/?name=Jane HTTP/1.1" 404', '"GET [unrouted path] HTTP/1.1" 404'),
        ('"POST /ws/Jane-Doe/ HTTP/1.1" 404', '"POST [unrouted path] HTTP/1.1" 404'),
        ('"GET /ws/stt/?name=Jane HTTP/1.1" 404',
         '"GET /ws/stt/?[redacted] HTTP/1.1" 404'),
        ('"GET /accounts/Jane/ HTTP/1.1" 404', '"GET /accounts/Jane/ HTTP/1.1" 404'),
    ],
)  # fmt: skip
def test_http_requests_for_websocket_paths_are_templated_too(line: str, expected: str) -> None:
    assert redact(line, routes=websocket_urlpatterns) == expected


def test_djangos_not_found_record_loses_the_room_id() -> None:
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "%s: %s",
        ("Not Found", "/ws/call/Jane-Doe-room/"), None,
    )  # fmt: skip
    assert RedactSocketPaths().filter(record) is True
    assert record.getMessage() == "Not Found: /ws/call/<room>/"


def test_prefixes_follow_a_settings_change() -> None:
    from django.test import override_settings

    from metrics.contrib.redaction import routes_and_prefixes

    assert routes_and_prefixes()[1] == ("/ws/", "/ws/call/", "/ws/stt/rooms/")
    no_routes = {"WEBSOCKET_ROUTES": "tests.contrib.test_redaction.NO_ROUTES"}
    with override_settings(VIDAI_METRICS=no_routes):
        assert routes_and_prefixes() == ([], ())
    assert routes_and_prefixes()[1] == ("/ws/", "/ws/call/", "/ws/stt/rooms/")


NO_ROUTES: list[object] = []


def test_a_record_without_a_path_is_left_as_it_is() -> None:
    args = ("127.0.0.1:5000", 200)
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "%s %d", args, None)
    assert RedactSocketPaths().filter(record) is True
    assert record.args is args
