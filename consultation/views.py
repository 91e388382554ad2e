"""``GET /consultation/socket-status/``: the JSON the frontend polls."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from metrics.health import channel_layer_answers

from .status import build_status, local_summary, status_etag


@login_not_required
@require_safe
async def socket_status(request: HttpRequest) -> HttpResponse:
    """Counts of open sockets by type; 304 when the state has not changed."""
    summary, source = local_summary()
    active = await channel_layer_answers()
    etag = status_etag(summary, active=active, source=source)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = JsonResponse(build_status(summary, active=active, source=source))
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response
