"""The exporter's settings and process state: defaults in one place, read lazily.

``settings.VIDAI_METRICS`` overrides any key of ``DEFAULTS``. The merged value
is cached, and so is everything derived from settings (``cached_per_settings``);
one ``setting_changed`` receiver drops them all, so ``override_settings`` works.
Invalid values are reported by the system check ``vidai_metrics.E003`` and
logged, and safe defaults stand in for them, so counting never stops.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK_NETWORKS: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

DEFAULTS: dict[str, Any] = {
    # Bearer token /metrics requires; None means no token.
    "TOKEN": None,
    # CIDR list allowed to read /metrics; None means loopback only without a
    # token, and any address with one.
    "ALLOWED_NETWORKS": None,
    # CIDR list of reverse proxies whose X-Forwarded-For is believed; None: none.
    "TRUSTED_PROXIES": None,
    # "host:port" of a dedicated /metrics listener that answers off the serving
    # event loop (metrics.listener); None: /metrics on the app's own port only.
    "LISTEN": None,
    # Lifetime histogram buckets (seconds): from a flapping socket to a long call.
    "DURATION_BUCKETS": (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400),
    # Live age gauge-histogram buckets (seconds).
    "AGE_BUCKETS": (10, 60, 300, 900, 1800, 3600, 7200, 14400),
    # Dotted path to the WebSocket routes; None: found in ASGI_APPLICATION.
    "WEBSOCKET_ROUTES": None,
    # Loggers whose records get WebSocket paths templated and query strings cut.
    "REDACT_LOGGERS": (
        "uvicorn.error",
        "uvicorn.access",
        "daphne.server",
        "daphne.ws_protocol",
        "daphne.http_protocol",
        "django.channels.server",
        # Django's "Not Found: <path>" and CSRF refusals name the path.
        "django.request",
        "django.security.csrf",
    ),
    # Multiprocess mode: seconds between a worker's re-derivations of its gauge files.
    "WORKER_REFRESH_SECONDS": 1.0,
    # Status JSON requests per client, "REQUESTS/SECONDS" (bursts up to REQUESTS);
    # None or "0": no limit. One address may be a whole clinic behind NAT.
    "STATUS_RATE_LIMIT": "600/60",
    # Origins whose pages may read the status JSON (CORS); never a wildcard.
    "STATUS_CORS_ORIGINS": (),
    # Where the status JSON reads its counts: "local" (this process, or this
    # host's workers) or "prometheus" (the fleet, from PROMETHEUS_URL's HTTP API).
    "STATUS_SOURCE": "local",
    # Prometheus base URL for the fleet view, the job its targets carry, the
    # timeout of one query, and how long an answer is reused.
    "PROMETHEUS_URL": None,
    "PROMETHEUS_JOB": "vidai",
    "PROMETHEUS_TIMEOUT": 1.0,
    "FLEET_CACHE_SECONDS": 2.0,
    # Open WebSockets one instance is sized for (exported as
    # vidai_websocket_connections_limit for the capacity alert); None: not set.
    "CONNECTION_LIMIT": None,
    # The same, per socket type: {"call": 2000}; types not listed have none.
    "CONNECTION_LIMIT_BY_TYPE": {},
}

STATUS_SOURCES: tuple[str, ...] = ("local", "prometheus")
# Settings whose change drops every cached value derived from settings.
_WATCHED_SETTINGS = frozenset(
    {"VIDAI_METRICS", "ASGI_APPLICATION", "CHANNEL_LAYERS", "DEBUG", "MIDDLEWARE"}
)


@dataclass(frozen=True)
class ExporterSettings:
    """The merged, validated value of ``VIDAI_METRICS``."""

    token: str | None
    allowed_networks: tuple[IPNetwork, ...] | None
    trusted_proxies: tuple[IPNetwork, ...] | None
    listen: tuple[str, int] | None
    duration_buckets: tuple[float, ...]
    age_buckets: tuple[float, ...]
    redact_loggers: tuple[str, ...]
    websocket_routes: str | None
    worker_refresh_seconds: float
    status_rate_limit: tuple[int, float] | None
    status_cors_origins: tuple[str, ...]
    status_source: str
    prometheus_url: str | None
    prometheus_job: str
    prometheus_timeout: float
    fleet_cache_seconds: float
    connection_limit: int | None
    connection_limit_by_type: tuple[tuple[str, int], ...]


_T = TypeVar("_T")
_resets: list[Callable[[], None]] = []


def cached_per_settings(func: Callable[[], _T]) -> Callable[[], _T]:
    """Cache a value derived from settings until a watched setting changes."""
    cached = functools.cache(func)
    _resets.append(cached.cache_clear)
    return functools.wraps(func)(cached)


def on_settings_change(reset: Callable[[], None]) -> Callable[[], None]:
    """Register a function that drops process state derived from settings."""
    _resets.append(reset)
    return reset


@receiver(setting_changed)
def _reset_derived_state(*, setting: str, **kwargs: object) -> None:
    if setting in _WATCHED_SETTINGS:
        for reset in _resets:
            reset()


def _is_text_sequence(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def _networks(key: str, value: object, problems: list[str]) -> tuple[IPNetwork, ...] | None:
    if value is None:
        return None
    if not _is_text_sequence(value):
        problems.append(f"{key} must be a list of CIDR strings, not {type(value).__name__}")
        return None
    try:
        return tuple(
            ipaddress.ip_network(item, strict=False) for item in cast(Sequence[str], value)
        )
    except ValueError as error:
        problems.append(f"{key}: {error}")
        return None


def _buckets(key: str, value: object, problems: list[str]) -> tuple[float, ...]:
    try:
        buckets = tuple(sorted(float(bound) for bound in cast(Sequence[float], value)))
    except (TypeError, ValueError):
        buckets = ()
    if not buckets or not all(0 < bound < math.inf for bound in buckets):
        problems.append(f"{key} must be a non-empty list of positive, finite seconds")
        return tuple(float(bound) for bound in DEFAULTS[key])
    return buckets


def _seconds(key: str, value: object, problems: list[str]) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not 0 < seconds < math.inf:
        problems.append(f"{key} must be a positive number of seconds, not {value!r}")
        return float(DEFAULTS[key])
    return seconds


def _text(key: str, value: object, problems: list[str], *, optional: bool) -> str | None:
    if value is None or value == "":
        if not optional:
            problems.append(f"{key} must be a non-empty string")
        return None
    if not isinstance(value, str):
        problems.append(f"{key} must be a string, not {type(value).__name__}")
        return None
    return value


def _address(key: str, value: object, problems: list[str]) -> tuple[str, int] | None:
    text = _text(key, value, problems, optional=True)
    if text is None:
        return None
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:9108
    if host and port.isdecimal() and 0 < int(port) < 65536:
        return host, int(port)
    problems.append(f"{key} must be host:port, e.g. 127.0.0.1:9108, not {text!r}")
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _limit(value: object, problems: list[str]) -> int | None:
    if value is None or _is_count(value):
        return cast(int | None, value)
    problems.append(f"CONNECTION_LIMIT must be a positive integer or None, not {value!r}")
    return None


def _limits_by_type(value: object, problems: list[str]) -> tuple[tuple[str, int], ...]:
    if isinstance(value, dict) and all(
        isinstance(key, str) and key and _is_count(limit) for key, limit in value.items()
    ):
        return tuple(sorted(value.items()))
    problems.append(
        f"CONNECTION_LIMIT_BY_TYPE must be a dict of socket type to positive integer, not {value!r}"
    )
    return ()


def _parse(merged: dict[str, Any], problems: list[str]) -> ExporterSettings:
    unknown = sorted(set(merged) - set(DEFAULTS))
    if unknown:
        problems.append(f"unknown keys {unknown}")
    try:
        rate_limit = parse_rate(str(merged["STATUS_RATE_LIMIT"] or ""))
    except ValueError as error:
        problems.append(f"STATUS_RATE_LIMIT: {error}")
        rate_limit = parse_rate(DEFAULTS["STATUS_RATE_LIMIT"])
    # A protection that cannot be read fails closed: a token nobody knows, loopback only.
    before = len(problems)
    token = _text("TOKEN", merged["TOKEN"], problems, optional=True)
    if len(problems) > before:
        token = secrets.token_hex(32)
    before = len(problems)
    allowed = _networks("ALLOWED_NETWORKS", merged["ALLOWED_NETWORKS"], problems)
    if len(problems) > before:
        allowed = tuple(ipaddress.ip_network(cidr) for cidr in LOOPBACK_NETWORKS)
    origins = merged["STATUS_CORS_ORIGINS"] or ()
    if not _is_text_sequence(origins) or "*" in origins:
        problems.append("STATUS_CORS_ORIGINS must be a list of origins, without '*'")
        origins = ()
    loggers = merged["REDACT_LOGGERS"]
    if not _is_text_sequence(loggers):
        problems.append("REDACT_LOGGERS must be a list of logger names")
        loggers = DEFAULTS["REDACT_LOGGERS"]
    source = merged["STATUS_SOURCE"]
    if source not in STATUS_SOURCES:
        problems.append(f"STATUS_SOURCE must be one of {STATUS_SOURCES}, not {source!r}")
        source = "local"
    prometheus_url = _text("PROMETHEUS_URL", merged["PROMETHEUS_URL"], problems, optional=True)
    if source == "prometheus" and not prometheus_url:
        problems.append('STATUS_SOURCE "prometheus" needs PROMETHEUS_URL')
        source = "local"
    return ExporterSettings(
        token=token,
        allowed_networks=allowed,
        trusted_proxies=_networks("TRUSTED_PROXIES", merged["TRUSTED_PROXIES"], problems),
        listen=_address("LISTEN", merged["LISTEN"], problems),
        duration_buckets=_buckets("DURATION_BUCKETS", merged["DURATION_BUCKETS"], problems),
        age_buckets=_buckets("AGE_BUCKETS", merged["AGE_BUCKETS"], problems),
        redact_loggers=tuple(loggers),
        websocket_routes=_text(
            "WEBSOCKET_ROUTES", merged["WEBSOCKET_ROUTES"], problems, optional=True
        ),
        worker_refresh_seconds=_seconds(
            "WORKER_REFRESH_SECONDS", merged["WORKER_REFRESH_SECONDS"], problems
        ),
        status_rate_limit=rate_limit,
        status_cors_origins=tuple(origins),
        status_source=source,
        prometheus_url=prometheus_url,
        prometheus_job=_text("PROMETHEUS_JOB", merged["PROMETHEUS_JOB"], problems, optional=False)
        or "vidai",
        prometheus_timeout=_seconds("PROMETHEUS_TIMEOUT", merged["PROMETHEUS_TIMEOUT"], problems),
        fleet_cache_seconds=_seconds(
            "FLEET_CACHE_SECONDS", merged["FLEET_CACHE_SECONDS"], problems
        ),
        connection_limit=_limit(merged["CONNECTION_LIMIT"], problems),
        connection_limit_by_type=_limits_by_type(merged["CONNECTION_LIMIT_BY_TYPE"], problems),
    )


def _read() -> tuple[ExporterSettings, list[str]]:
    overrides = getattr(settings, "VIDAI_METRICS", {})
    if not isinstance(overrides, dict):
        return _parse(dict(DEFAULTS), []), [
            f"VIDAI_METRICS must be a dict, not {type(overrides).__name__}"
        ]
    problems: list[str] = []
    parsed = _parse({**DEFAULTS, **overrides}, problems)
    return parsed, [f"VIDAI_METRICS {problem}" for problem in problems]


def settings_problems() -> list[str]:
    """Return what is wrong with ``VIDAI_METRICS``, one sentence a problem."""
    return _read()[1]


@cached_per_settings
def get_settings() -> ExporterSettings:
    """Return the exporter settings, merged over ``DEFAULTS``.

    An invalid value is logged and replaced: by its default, or, for ``TOKEN``
    and ``ALLOWED_NETWORKS``, by what locks ``/metrics`` to no one and to
    loopback. Check E003 reports it too. Sockets are counted all the same.
    """
    parsed, problems = _read()
    if problems:
        logger.error("%s; using safe defaults for these keys", "; ".join(problems))
    return parsed


def parse_rate(text: str) -> tuple[int, float] | None:
    """Parse ``"120/60"`` (requests per seconds); ``""`` or ``"0"`` means no limit."""
    if text.strip() in ("", "0"):
        return None
    requests, _, seconds = text.partition("/")
    parsed = int(requests), float(seconds or 1)
    if parsed[0] < 1 or not math.isfinite(parsed[1]) or parsed[1] <= 0:
        raise ValueError(f"bad rate limit {text!r}: expected REQUESTS/SECONDS, e.g. 120/60")
    return parsed


def multiprocess_dir() -> str | None:
    """Return prometheus_client's multiprocess directory, if the environment sets one.

    Whether this process is one worker of several: read from the environment
    the server started with, as prometheus_client reads it.
    """
    # prometheus_client still honours the old lower-case name too.
    legacy = "prometheus_multiproc_dir"
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(legacy)
