"""The ASGI fast path for the status JSON answers as the Django view does."""

import json
import logging

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


async def fetch(
    method: str = "GET", path: str = STATUS_PATH, headers=(), host=b"testserver", scheme="http"
):
    """Ask APP; like a browser, with a Host header (``host=None``: none)."""
    sent = [(b"host", host)] if host is not None else []
    communicator = HttpCommunicator(APP, method, path, headers=[*sent, *headers])
    communicator.scope["scheme"] = scheme  # the scope the app is called with
    return await communicator.get_response()


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


@pytest.mark.parametrize("host", [b"evil.example", b"evil.example:8000", None])
async def test_a_host_not_allowed_gets_400_as_from_django(host, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="django.security.DisallowedHost"):
        response = await fetch(host=host)
    assert response["status"] == 400
    assert b"sockets_by_type" not in response["body"]
    assert "Invalid HTTP_HOST header" in caplog.text
    assert header(response, b"x-content-type-options") == "nosniff"


async def test_answers_carry_the_security_middlewares_headers(async_client: AsyncClient) -> None:
    slow = await async_client.get(STATUS_PATH)
    for method, status in (("GET", 200), ("HEAD", 200), ("OPTIONS", 204), ("POST", 405)):
        response = await fetch(method)
        assert response["status"] == status
        assert header(response, b"x-content-type-options") == "nosniff"
        assert header(response, b"x-frame-options") == "DENY"
        assert header(response, b"referrer-policy") == "same-origin"
        assert header(response, b"cross-origin-opener-policy") == "same-origin"
        for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
            assert header(response, name.lower().encode()) == slow[name]
    # Plain http: no HSTS, as SecurityMiddleware sends it over https only.
    assert header(await fetch(), b"strict-transport-security") is None


@override_settings(
    SECURE_HSTS_SECONDS=3600,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=False,
    SECURE_REFERRER_POLICY="no-referrer",
    X_FRAME_OPTIONS="SAMEORIGIN",
)
async def test_the_headers_follow_the_settings_and_hsts_needs_https() -> None:
    secure = await fetch(scheme="https")
    assert header(secure, b"strict-transport-security") == "max-age=3600; includeSubDomains"
    assert header(secure, b"referrer-policy") == "no-referrer"
    assert header(secure, b"x-frame-options") == "SAMEORIGIN"


@override_settings(SECURE_SSL_REDIRECT=True)
async def test_plain_http_is_redirected_to_https_when_configured() -> None:
    response = await fetch()
    assert response["status"] == 301
    assert header(response, b"location") == f"https://testserver{STATUS_PATH}"
    assert (await fetch(scheme="https"))["status"] == 200


@override_settings(MIDDLEWARE=[])
async def test_without_the_middleware_no_headers_are_added() -> None:
    response = await fetch()
    assert response["status"] == 200
    assert header(response, b"x-content-type-options") is None
    assert header(response, b"x-frame-options") is None
    assert (await fetch(host=b"evil.example"))["status"] == 400  # ALLOWED_HOSTS always
