"""Test settings: the project's settings with a throwaway secret key."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-secret")
# The test servers and clients speak plain http on loopback: production's opt-outs.
os.environ.setdefault("VIDAI_SSL_REDIRECT", "0")
os.environ.setdefault("VIDAI_SECURE_COOKIES", "0")
os.environ.setdefault("VIDAI_HSTS_SECONDS", "0")

from vidai.settings import *  # noqa: F403

# Tests poll the status JSON far faster than any browser; the limiter's own
# tests switch it back on with override_settings.
VIDAI_METRICS = {
    **VIDAI_METRICS,  # noqa: F405
    "STATUS_RATE_LIMIT": os.environ.get("VIDAI_STATUS_RATE_LIMIT", "0"),
}

# Logging in is on many tests' path; the default hasher is slow on purpose.
# Real-server tests hold many sockets per test user; the cap's own test sets
# it low (an environment variable, as for any server, wins).
VIDAI_WEBSOCKETS = {"SOCKETS_PER_USER": 500, **VIDAI_WEBSOCKETS}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
