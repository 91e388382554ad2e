"""The servers the project starts, probed from outside as an attacker would.

uvicorn (as ``make run`` starts it), gunicorn with ``gunicorn.conf.py`` (as
``make run-workers``) and daphne (``python -m metrics.daphne``): forged
proxy headers, oversized request heads, a foreign Host on the fast path.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Iterator

import pytest

from vidai.serving import MAX_REQUEST_HEAD_BYTES, uvicorn_args

from ..servers import (
    SERVERS,
    STATUS_PATH,
    LiveServer,
    RawAnswer,
    free_port,
    raw_request,
    run_command,
    run_server,
)
from ..workers import run_gunicorn

pytestmark = pytest.mark.server

KINDS = (*SERVERS, "gunicorn")
# /metrics from 10.0.0.0/8 only, no token; a status rate limit small enough to exhaust.
GUARDED = {
    "VIDAI_METRICS_ALLOWED_NETWORKS": "10.0.0.0/8",
    "VIDAI_METRICS_TOKEN": "",
    "VIDAI_STATUS_RATE_LIMIT": "5/3600",
}


@contextlib.contextmanager
def serve(kind: str, sqlite_path: str, **env: str) -> Iterator[LiveServer]:
    if kind == "gunicorn":
        with run_gunicorn(sqlite_path, workers=1, **env) as gunicorn:
            yield gunicorn.server
    else:
        with run_server(kind, sqlite_path, **env) as server:
            yield server


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.mark.parametrize("kind", KINDS)
def test_a_forged_forwarded_for_from_loopback_is_not_believed(kind, sqlite_path) -> None:
    with serve(kind, sqlite_path, VIDAI_TRUSTED_PROXIES="", **GUARDED) as server:
        assert server.get("/metrics", forwarded("10.1.2.3"))[0] == 403
        # One bucket, loopback's, however the header rotates (the start-up probes
        # took one or more of its 5).
        codes = [server.get(STATUS_PATH, forwarded(f"10.0.0.{n}"))[0] for n in range(10)]
        assert set(codes) <= {200, 429}
        assert codes.count(200) <= 4
        assert codes == sorted(codes)  # once refused, refused: no fresh bucket


@pytest.mark.parametrize("kind", KINDS)
def test_behind_a_trusted_proxy_the_client_in_the_header_is_used(kind, sqlite_path) -> None:
    with serve(kind, sqlite_path, VIDAI_TRUSTED_PROXIES="127.0.0.1", **GUARDED) as server:
        assert server.get("/metrics", forwarded("10.1.2.3"))[0] == 200
        assert server.get("/metrics", forwarded("192.0.2.1"))[0] == 403
        assert server.get("/metrics")[0] == 403  # the proxy itself is not 10.0.0.0/8
        # A client may prepend anything; the hop the proxy added is the one believed.
        assert server.get("/metrics", forwarded("10.1.2.3, 192.0.2.1"))[0] == 403
        fresh = [server.get(STATUS_PATH, forwarded(f"10.0.0.{n}"))[0] for n in range(10)]
        assert fresh == [200] * 10  # each client its own bucket
        same = [server.get(STATUS_PATH, forwarded("10.9.9.9"))[0] for _ in range(6)]
        assert same == [200] * 5 + [429]


def request_head(extra_headers: bytes) -> bytes:
    return b"GET " + STATUS_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers


def refused(answer: RawAnswer) -> bool:
    """400/431, or (daphne, for one over-long header line) closed before reading it all."""
    return answer.status in (400, 431) or (answer.status is None and not answer.read_all)


@pytest.mark.parametrize("kind", KINDS)
def test_oversized_request_heads_are_refused(kind, sqlite_path) -> None:
    with serve(kind, sqlite_path) as server:
        assert raw_request(server.port, request_head(b"\r\n")).status == 200
        small = b"X-Small: " + b"a" * (MAX_REQUEST_HEAD_BYTES // 2) + b"\r\n\r\n"
        assert raw_request(server.port, request_head(small)).status == 200
        huge = raw_request(server.port, request_head(b"X-Huge: " + b"a" * 2**23 + b"\r\n\r\n"))
        assert refused(huge), huge
        if kind != "daphne":
            assert huge.status == 400  # h11: "Invalid HTTP request received."
        many = b"".join(b"X-H%d: v\r\n" % n for n in range(20_000)) + b"\r\n"
        assert raw_request(server.port, request_head(many)).status == 400
        assert raw_request(server.port, request_head(b"\r\n")).status == 200  # still serving


def test_the_metrics_listener_bounds_heads_and_believes_no_forged_address(sqlite_path) -> None:
    port = free_port()
    with run_server("uvicorn", sqlite_path, VIDAI_METRICS_LISTEN=f"127.0.0.1:{port}", **GUARDED):
        scrape = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        assert raw_request(port, scrape + b"X-Forwarded-For: 10.1.2.3\r\n\r\n").status == 403
        # http.server's bounds: 64 KiB a line, 100 headers; "431 Request Header Fields Too Large".
        assert raw_request(port, scrape + b"X-Huge: " + b"a" * 2**23 + b"\r\n\r\n").status == 431
        many = b"".join(b"X-H%d: v\r\n" % n for n in range(20_000)) + b"\r\n"
        assert raw_request(port, scrape + many).status == 431


@pytest.mark.parametrize("kind", SERVERS)
def test_the_fast_path_refuses_a_foreign_host_and_sends_security_headers(kind, sqlite_path) -> None:
    with serve(kind, sqlite_path) as server:
        assert server.get(STATUS_PATH, {"Host": "evil.example"})[0] == 400
        answer = raw_request(server.port, request_head(b"\r\n"))
        assert answer.status == 200
        assert "x-content-type-options: nosniff" in answer.head
        assert "x-frame-options: deny" in answer.head


def make_uvicorn_command(**env: str) -> list[str]:
    """The uvicorn command ``make run`` would run with ``env``, as arguments."""
    done = run_command("make", "-n", "run", env={**os.environ, **env})
    script = done.stdout.replace("\\\n", " ")
    (line,) = [line for line in script.splitlines() if "uvicorn vidai.asgi" in line]
    return shlex.split(line)


@pytest.mark.parametrize("proxies", ["", "127.0.0.1", "10.0.0.0/8,192.168.0.0/16"])
def test_make_run_starts_uvicorn_with_the_test_servers_options(proxies) -> None:
    env = {"VIDAI_TRUSTED_PROXIES": proxies}
    command = make_uvicorn_command(**env)
    expected = uvicorn_args(env)
    assert ("--no-proxy-headers" in expected) is not bool(proxies)
    start = command.index(expected[0])
    assert command[start : start + len(expected)] == expected


def test_daphne_refuses_to_believe_every_clients_proxy_headers() -> None:
    done = run_command(
        sys.executable, "-m", "metrics.daphne", "--proxy-headers", "tests.asgi_app:application",
        ok=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "TRUSTED_PROXIES" in done.stderr


def sends_hsts(server: LiveServer, proto: str | None) -> bool:
    """Whether Django saw the request as https: only then does it send HSTS."""
    forged = f"X-Forwarded-Proto: {proto}\r\n" if proto else ""
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{forged}Connection: close\r\n\r\n"
    answer = raw_request(server.port, request.encode())
    assert answer.status == 200
    return "strict-transport-security" in answer.head


def test_the_scheme_header_is_believed_from_trusted_proxies_only(sqlite_path) -> None:
    hsts = {"VIDAI_HSTS_SECONDS": "3600"}
    with serve("uvicorn", sqlite_path, VIDAI_TRUSTED_PROXIES="10.0.0.0/8", **hsts) as server:
        assert not sends_hsts(server, "https")  # a client's own header: still http
    with serve("uvicorn", sqlite_path, VIDAI_TRUSTED_PROXIES="127.0.0.1", **hsts) as server:
        assert sends_hsts(server, "https")  # the proxy says the client used TLS
        assert not sends_hsts(server, None)
