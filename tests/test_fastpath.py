"""The ASGI fast path for the status JSON answers as the Django view does."""

import json

import pytest
from channels.testing import HttpCommunicator
from django.conf import settings
from django.test import AsyncClient, override_settings

from metrics import StatusFastPath
from vidai.asgi import STATUS_PATH


async def django_stand_in(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


APP = StatusFastPath(django_stand_in, path=STATUS_PATH)


async def fetch(method: str = "GET", path: str = STATUS_PATH, headers=()):
    return await HttpCommunicator(APP, method, path, headers=list(headers)).get_response()


def header(response, name: bytes) -> str | None:
    found = [v for n, v in response["headers"] if n.lower() == name]
    return found[0].decode() if found else None


async def test_get_matches_the_django_view(async_client: AsyncClient) -> None:
    response = await fetch()
    assert response["status"] == 200
    assert header(response, b"content-type") == "application/json"
    fast = json.loads(response["body"])
    slow_response = await async_client.get(STATUS_PATH)
    slow = slow_response.json()
    for key in ("active", "sockets_by_type", "ws_endpoints", "source"):
        assert fast[key] == slow[key], key
    assert header(response, b"etag") == slow_response["ETag"]


async def test_etag_304_head_options_and_405() -> None:
    first = await fetch()
    etag = header(first, b"etag")
    assert etag is not None
    unchanged = await fetch(headers=[(b"if-none-match", etag.encode())])
    assert (unchanged["status"], unchanged["body"]) == (304, b"")
    head = await fetch("HEAD")
    assert head["status"] == 200
    assert head["body"] == b""
    assert int(header(head, b"content-length")) == len(first["body"])
    refused = await fetch("POST")
    assert refused["status"] == 405
    assert header(refused, b"allow") == "GET, HEAD, OPTIONS"
    assert (await fetch("OPTIONS"))["status"] == 204


async def test_other_paths_go_to_django() -> None:
    for path in ("/", "/consultation/socket-status/ui/", "/metrics", STATUS_PATH + "sockets/"):
        response = await fetch(path=path)
        assert (response["status"], response["body"]) == (299, b"django")


@override_settings(
    VIDAI_METRICS={
        **settings.VIDAI_METRICS,
        "STATUS_RATE_LIMIT": "2/60",
        "STATUS_CORS_ORIGINS": ["https://a.test"],
    }
)
async def test_rate_limit_and_cors_apply_on_the_fast_path() -> None:
    origin = [(b"origin", b"https://a.test")]
    codes = [(await fetch(headers=origin))["status"] for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = await fetch(headers=origin)
    assert header(limited, b"retry-after") is not None
    assert header(limited, b"access-control-allow-origin") == "https://a.test"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_unsafe_methods_are_refused(method: str) -> None:
    assert (await fetch(method))["status"] == 405
