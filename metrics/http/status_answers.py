"""The status JSON's HTTP behaviour, independent of Django's request cycle.

Browsers poll this endpoint far more often than anything else is requested,
so ``metrics.http.fastpath.StatusFastPath`` can answer it at the ASGI boundary,
without the middleware stack (each sync middleware costs a thread hop, about
6 ms of CPU a request in all). ``metrics.views.SocketStatusView`` gives the
same answers from the same code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..conf import cached_per_settings, get_settings
from .answers import Answer
from .channel_layer import channel_layer_answers
from .clients import resolve_client
from .ratelimit import RateLimiter
from .status import build_status, read_summary, status_etag

__all__ = ["ALLOW", "StatusRequest", "respond"]

ALLOW = "GET, HEAD, OPTIONS"


@dataclass(frozen=True)
class StatusRequest:
    """What the endpoint needs of a request; header names in lower case."""

    method: str
    headers: Mapping[str, str]
    peer: str


@cached_per_settings
def _limiter() -> RateLimiter | None:
    rate = get_settings().status_rate_limit
    return None if rate is None else RateLimiter(*rate)


def _json(status: int, document: object) -> Answer:
    return Answer(status, {"Content-Type": "application/json"}, json.dumps(document).encode())


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored.
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _with_cors(request: StatusRequest, response: Answer) -> Answer:
    """Let the configured origins (never a wildcard) read the response and its ETag."""
    response.headers["Vary"] = "Origin"
    origin = request.headers.get("origin")
    if origin and origin in get_settings().status_cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOW
            response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


async def respond(request: StatusRequest) -> Answer:
    """Answer one request for the status JSON."""
    if request.method == "OPTIONS":
        return _with_cors(request, Answer(204, {"Allow": ALLOW}))
    if request.method not in ("GET", "HEAD"):
        return Answer(405, {"Allow": ALLOW})
    limiter = _limiter()
    if limiter is not None:
        client = resolve_client(
            request.peer, request.headers.get("x-forwarded-for", ""), get_settings().trusted_proxies
        )
        wait = limiter.retry_after(str(client))
        if wait:
            limited = _json(429, {"error": "too many requests"})
            limited.headers["Retry-After"] = str(math.ceil(wait))
            return _with_cors(request, limited)
    summary, source = await read_summary()
    active = await channel_layer_answers()
    etag = status_etag(summary, active=active, source=source)
    if _etag_matches(request.headers.get("if-none-match", ""), etag):
        response = Answer(304)
    else:
        response = _json(200, build_status(summary, active=active, source=source))
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return _with_cors(request, response)
