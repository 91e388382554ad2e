"""``/consultation/socket-status/``: the JSON the frontend polls, and the staff listing."""

from __future__ import annotations

import time

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from metrics.tracker import default_tracker

from .endpoint import StatusRequest, respond


@login_not_required
async def socket_status(request: HttpRequest) -> HttpResponse:
    """Counts of open sockets by type; 304 when the state has not changed.

    The same answers as ``consultation.fastpath``, which serves this URL in
    front of Django; this view serves it where the fast path is not mounted.
    """
    answer = await respond(
        StatusRequest(
            method=request.method or "GET",
            headers={name.lower(): value for name, value in request.headers.items()},
            peer=request.META.get("REMOTE_ADDR", ""),
        )
    )
    response = HttpResponse(
        b"" if request.method == "HEAD" else answer.body,
        status=answer.status,
        headers=answer.headers,
    )
    if answer.status == 200:
        response["Content-Length"] = str(len(answer.body))
    return response


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
