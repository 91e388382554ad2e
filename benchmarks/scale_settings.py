"""Django settings of the scale benchmark's minimal project (``benchmarks.scale_project``)."""

from __future__ import annotations

import os
from typing import Any

SECRET_KEY = "benchmark-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "channels", "metrics"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchmarks.scale_settings"
urlpatterns: list[Any] = []
DATABASES: dict[str, Any] = {}
USE_TZ = True
ASGI_APPLICATION = "benchmarks.scale_project.application"
VIDAI_METRICS = {
    "WEBSOCKET_ROUTES": "benchmarks.scale_project.websocket_routes",
    "LISTEN": os.environ.get("VIDAI_SCALE_LISTEN") or None,
    # The benchmark polls the status JSON far faster than a browser would.
    "STATUS_RATE_LIMIT": None,
}
