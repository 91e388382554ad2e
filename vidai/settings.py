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
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times socket reads out after 5 s, exactly channels_redis's
            # BZPOPMIN wait: an idle consumer would crash. Reads wait longer instead.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 10}]},
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

# The exporter's settings; see README "Settings". Its defaults are in
# metrics/conf.py; an environment variable that is set overrides one key.
_METRICS_FROM_ENV = {
    "TOKEN": os.environ.get("VIDAI_METRICS_TOKEN"),
    "ALLOWED_NETWORKS": _env_list("VIDAI_METRICS_ALLOWED_NETWORKS"),
    "TRUSTED_PROXIES": _env_list("VIDAI_TRUSTED_PROXIES"),
    # Origins allowed to read the status JSON from a browser (no wildcard).
    "STATUS_CORS_ORIGINS": _env_list("VIDAI_STATUS_CORS_ORIGINS"),
    # Status JSON requests per client: "REQUESTS/SECONDS"; "0" turns the limit off.
    "STATUS_RATE_LIMIT": os.environ.get("VIDAI_STATUS_RATE_LIMIT"),
    # Fleet view: the status JSON reads every instance's counts from Prometheus.
    "STATUS_SOURCE": os.environ.get("VIDAI_STATUS_SOURCE"),
    "PROMETHEUS_URL": os.environ.get("VIDAI_PROMETHEUS_URL"),
    "PROMETHEUS_JOB": os.environ.get("VIDAI_PROMETHEUS_JOB"),
}
VIDAI_METRICS = {key: value for key, value in _METRICS_FROM_ENV.items() if value}

# Vidai's WebSocket policy; see README "Settings". Defaults in consultation/conf.py.
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
