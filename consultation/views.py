"""``/consultation/socket-status/``: the JSON the frontend polls, and the staff listing."""

from __future__ import annotations

import functools
import math
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.views.decorators.http import require_http_methods, require_safe

from metrics.clients import client_address
from metrics.conf import get_settings
from metrics.health import channel_layer_answers
from metrics.tracker import default_tracker

from .ratelimit import RateLimiter, parse_rate
from .status import build_status, local_summary, status_etag


@functools.cache
def _limiter() -> RateLimiter | None:
    rate = parse_rate(str(getattr(settings, "VIDAI_STATUS_RATE_LIMIT", "")))
    return None if rate is None else RateLimiter(*rate)


@receiver(setting_changed)
def _drop_limiter(*, setting: str, **kwargs: object) -> None:
    if setting == "VIDAI_STATUS_RATE_LIMIT":
        _limiter.cache_clear()


def _with_cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Let the configured origins (never a wildcard) read the response and its ETag."""
    origin = request.headers.get("Origin")
    patch_vary_headers(response, ["Origin"])
    if origin and origin in getattr(settings, "VIDAI_STATUS_CORS_ORIGINS", ()):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "ETag, Retry-After"
        if request.method == "OPTIONS":
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "If-None-Match"
            response["Access-Control-Max-Age"] = "600"
    return response


def _rate_limited(request: HttpRequest) -> HttpResponse | None:
    limiter = _limiter()
    if limiter is None:
        return None
    client = client_address(request, get_settings().trusted_proxies)
    wait = limiter.retry_after(str(client))
    if not wait:
        return None
    response = JsonResponse({"error": "too many requests"}, status=429)
    response["Retry-After"] = str(math.ceil(wait))
    return response


@login_not_required
@require_http_methods(["GET", "HEAD", "OPTIONS"])
async def socket_status(request: HttpRequest) -> HttpResponse:
    """Counts of open sockets by type; 304 when the state has not changed."""
    if request.method == "OPTIONS":
        return _with_cors(request, HttpResponse(status=204))
    limited = _rate_limited(request)
    if limited is not None:
        return _with_cors(request, limited)
    summary, source = local_summary()
    active = await channel_layer_answers()
    etag = status_etag(summary, active=active, source=source)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = JsonResponse(build_status(summary, active=active, source=source))
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return _with_cors(request, response)


@require_safe
def socket_list(request: HttpRequest) -> HttpResponse:
    """Open sockets of this process (id, type, since, age, user id), for staff only."""
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return JsonResponse({"error": "staff only"}, status=403)
    now = time.time()
    sockets = [
        {
            "id": str(sock.key[1] if isinstance(sock.key, tuple) else sock.key),
            "type": sock.type,
            "since": sock.started_at,
            "age_seconds": round(max(0.0, now - sock.started_at), 3),
            "user_id": sock.user_id,
        }
        for sock in default_tracker().sockets()
    ]
    response = JsonResponse({"sockets": sockets, "count": len(sockets)})
    response["Cache-Control"] = "private, no-store"
    return response
