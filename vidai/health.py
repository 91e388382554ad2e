"""``/healthz``: the process answers HTTP. The readiness probe's URL, never rate-limited.

It touches neither the database nor the channel layer, so a Redis restart
does not take every pod out of the Service at once; the status JSON's
``active`` says whether the channel layer answers.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 ``ok``."""
    return HttpResponse("ok\n", content_type="text/plain", headers={"Cache-Control": "no-store"})
