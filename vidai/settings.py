"""Settings for the Vidai project, read from the environment.

The defaults are the embedded setup: one process, the in-memory channel
layer and SQLite. ``DJANGO_DEBUG=1`` is what ``make run`` sets.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_count(name: str) -> int | str | None:
    # A non-number passes through as text: system check E003 names it.
    text = os.environ.get(name)
    return int(text) if text and text.isdecimal() else text


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "")
    if value not in ("", "0", "1"):
        # "true" or "yes" must not quietly turn a protection off.
        raise ImproperlyConfigured(f"{name} must be 0 or 1, not {value!r}")
    return default if not value else value == "1"


DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local use).")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105

ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_prometheus",
    "metrics",
    "consultation",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "vidai.urls"
ASGI_APPLICATION = "vidai.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("VIDAI_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        # Every handshake reads the session and admitting a socket writes the join
        # audit: WAL lets reads go on during a write, and commits skip a sync each.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }
}

# One process needs no broker; REDIS_URL switches to a layer shared by hosts.
# rediss:// is TLS (REDIS_CA_FILE: the CA to verify the server with); the
# password comes from its own variable, so it never sits in a URL.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # redis-py 8 times socket reads out after 5 s, exactly channels_redis's
    # BZPOPMIN wait: an idle consumer would crash. Reads wait longer instead.
    _redis_host: dict[str, object] = {"address": REDIS_URL, "socket_timeout": 10}
    if os.environ.get("REDIS_PASSWORD"):
        _redis_host["password"] = os.environ["REDIS_PASSWORD"]
    if os.environ.get("REDIS_CA_FILE"):
        _redis_host["ssl_ca_certs"] = os.environ["REDIS_CA_FILE"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis_host]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Production (DEBUG off) is HTTPS only; docs/demo.md (Vidai's settings) lists the opt-outs,
# which a plain-http setup (the test servers) sets explicitly.
SECURE_SSL_REDIRECT = _env_flag("VIDAI_SSL_REDIRECT", not DEBUG)
# Prometheus and the kubelet's probes reach each pod over plain http inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^healthz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_flag("VIDAI_SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("VIDAI_HSTS_SECONDS") or (0 if DEBUG else 31_536_000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("VIDAI_HSTS_INCLUDE_SUBDOMAINS", True)
# Allows submission to browsers' preload lists; submitting is a separate step.
SECURE_HSTS_PRELOAD = _env_flag("VIDAI_HSTS_PRELOAD", True)
SESSION_COOKIE_AGE = int(os.environ.get("VIDAI_SESSION_SECONDS") or 8 * 3600)
# No SECURE_PROXY_SSL_HEADER: Django would believe X-Forwarded-Proto from any
# peer. uvicorn, trusting VIDAI_TRUSTED_PROXIES only (vidai/serving.py), sets
# the request's scheme from that header itself.

# The exporter's settings; see docs/settings.md. Its defaults are in
# metrics/conf.py; an environment variable that is set overrides one key.
_METRICS_FROM_ENV = {
    "TOKEN": os.environ.get("VIDAI_METRICS_TOKEN"),
    "ALLOWED_NETWORKS": _env_list("VIDAI_METRICS_ALLOWED_NETWORKS"),
    "TRUSTED_PROXIES": _env_list("VIDAI_TRUSTED_PROXIES"),
    # host:port of the dedicated /metrics listener (off the serving event loop).
    "LISTEN": os.environ.get("VIDAI_METRICS_LISTEN"),
    # Open WebSockets one instance is sized for: the capacity alert's denominator.
    "CONNECTION_LIMIT": _env_count("VIDAI_METRICS_CONNECTION_LIMIT"),
    # Origins allowed to read the status JSON from a browser (no wildcard).
    "STATUS_CORS_ORIGINS": _env_list("VIDAI_STATUS_CORS_ORIGINS"),
    # Status JSON requests per client: "REQUESTS/SECONDS"; "0" turns the limit off.
    "STATUS_RATE_LIMIT": os.environ.get("VIDAI_STATUS_RATE_LIMIT"),
    # Fleet view: the status JSON reads every instance's counts from Prometheus.
    "STATUS_SOURCE": os.environ.get("VIDAI_STATUS_SOURCE"),
    "PROMETHEUS_URL": os.environ.get("VIDAI_PROMETHEUS_URL"),
    "PROMETHEUS_JOB": os.environ.get("VIDAI_PROMETHEUS_JOB"),
}
# Unset (None), empty or empty-list variables leave the default; 0 reaches E003.
VIDAI_METRICS = {
    key: value for key, value in _METRICS_FROM_ENV.items() if value not in (None, "", [])
}

# Vidai's WebSocket policy; see docs/demo.md. Defaults in consultation/conf.py.
_WEBSOCKETS_FROM_ENV = {
    # Origins besides ALLOWED_HOSTS whose pages may open sockets (scheme://host[:port]).
    "ALLOWED_ORIGINS": _env_list("VIDAI_WEBSOCKET_ORIGINS") or None,
    "SOCKETS_PER_USER": os.environ.get("VIDAI_SOCKETS_PER_USER"),
    "MESSAGE_RATE": os.environ.get("VIDAI_WEBSOCKET_MESSAGE_RATE"),
    "RECHECK_SECONDS": os.environ.get("VIDAI_SESSION_RECHECK_SECONDS"),
}
VIDAI_WEBSOCKETS = {key: value for key, value in _WEBSOCKETS_FROM_ENV.items() if value}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "metrics": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "consultation": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}
