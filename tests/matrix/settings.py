"""Settings of a minimal Channels project that adopts the exporter, and nothing else."""

import os

SECRET_KEY = "server-matrix-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "channels", "metrics"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.matrix.urls"
ASGI_APPLICATION = "tests.matrix.asgi.application"
DATABASES: dict[str, dict[str, str]] = {}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
USE_TZ = True
# The matrix scrapes the status JSON far faster than any browser.
VIDAI_METRICS = {"STATUS_RATE_LIMIT": "0"}
# The dedicated listener, where a test asks for one.
if os.environ.get("MATRIX_LISTEN"):
    VIDAI_METRICS["LISTEN"] = os.environ["MATRIX_LISTEN"]
