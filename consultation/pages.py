"""The status page: the indicator from the built frontend bundle, and a try-it panel.

The page is the npm package's demo (``frontend/demo/``). Vite writes hashed
file names to ``frontend/demo/dist/.vite/manifest.json``; the page reads it to
link the entry's script and CSS, and ``bundle_asset`` serves
``frontend/demo/dist/assets/`` with a year-long immutable cache (a new
build means new names). A small view rather than whitenoise: whitenoise's
middleware is synchronous, so under ASGI it would put every request, the
polled status JSON included, through a thread hop; and Django serves no
static files outside ``runserver``. ``VIDAI_FRONTEND_DIST`` (a setting,
read per request) points elsewhere, e.g. in tests.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from .access import may_read_feeds
from .models import Participant

# The manifest key of the demo's entry (relative to frontend/demo/, Vite's root).
ENTRY = "main.jsx"
# File names Vite emits: letters, digits, "-", "_" and dots, never a leading dot or a slash.
ASSET_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
IMMUTABLE = "public, max-age=31536000, immutable"
BUILD_COMMAND = "make frontend"


@dataclass(frozen=True)
class Bundle:
    """The built entry's files, relative to the assets URL."""

    scripts: tuple[str, ...]
    styles: tuple[str, ...]


def frontend_dist() -> Path:
    """Where the page's build is: ``settings.VIDAI_FRONTEND_DIST`` or ``frontend/demo/dist``."""
    default = Path(settings.BASE_DIR) / "frontend" / "demo" / "dist"
    return Path(getattr(settings, "VIDAI_FRONTEND_DIST", default))


def load_bundle(dist: Path) -> Bundle | None:
    """The entry's script and styles from the Vite manifest; None when there is no build."""
    manifest = dist / ".vite" / "manifest.json"
    try:
        stat = manifest.stat()
    except OSError:
        return None
    return _parse_manifest(str(manifest), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parse_manifest(path: str, mtime_ns: int, size: int) -> Bundle | None:
    # Keyed by mtime and size: a rebuild is picked up without a restart.
    try:
        entry = json.loads(Path(path).read_text(encoding="utf-8"))[ENTRY]
        scripts = (_asset_name(entry["file"]),)
        styles = tuple(_asset_name(css) for css in entry.get("css", []))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Bundle(scripts=scripts, styles=styles)


def _asset_name(manifest_path: object) -> str:
    if not isinstance(manifest_path, str) or not manifest_path.startswith("assets/"):
        raise ValueError(manifest_path)
    name = manifest_path.removeprefix("assets/")
    if not ASSET_NAME.fullmatch(name):
        raise ValueError(manifest_path)
    return name


@login_not_required
@require_safe
def status_page(request: HttpRequest) -> HttpResponse:
    """The indicator and try-it panel, or how to build them when the bundle is missing."""
    bundle = load_bundle(frontend_dist())
    assets = reverse("consultation:socket-status-ui") + "assets/"
    user = request.user
    context = {
        # What the try-it panel may open: a logged-in user's own consultation and feeds.
        "logged_in": user.is_authenticated,
        "consultation": _own_consultation(user) if user.is_authenticated else None,
        "feeds": user.is_authenticated and may_read_feeds(user),
        "bundle": bundle,
        "scripts": [assets + name for name in bundle.scripts] if bundle else [],
        "styles": [assets + name for name in bundle.styles] if bundle else [],
        "status_url": reverse("consultation:socket-status"),
        "build_command": BUILD_COMMAND,
    }
    response = render(request, "consultation/status_page.html", context)
    response["Cache-Control"] = "no-cache"
    return response


def _own_consultation(user: Any) -> str | None:
    """The id of the latest consultation the user takes part in, or None."""
    found = (
        Participant.objects.filter(user_id=user.pk)
        .order_by("-consultation__created_at")
        .values_list("consultation_id", flat=True)
        .first()
    )
    return str(found) if found else None


@login_not_required
@require_safe
def bundle_asset(request: HttpRequest, name: str) -> HttpResponse:
    """One file of the built bundle; its name carries its hash, so it is cached for good."""
    if not ASSET_NAME.fullmatch(name):
        raise Http404("no such asset")
    assets = frontend_dist() / "assets"
    path = assets / name
    try:
        stat = path.stat()
    except OSError:
        raise Http404("no such asset") from None
    if not path.is_file() or path.resolve().parent != assets.resolve():
        raise Http404("no such asset")
    body = _read_asset(str(path), stat.st_mtime_ns, stat.st_size)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type in {"text/javascript", "application/javascript", "text/css"}:
        content_type += "; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = IMMUTABLE
    return response


@lru_cache(maxsize=32)
def _read_asset(path: str, mtime_ns: int, size: int) -> bytes:
    # Whole files, not FileResponse: Django's ASGI handler would stream a
    # file through a sync iterator (with a warning); bundle files are small.
    return Path(path).read_bytes()
