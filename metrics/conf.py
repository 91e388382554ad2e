"""The exporter's settings: defaults in one place, read lazily from Django.

``settings.VIDAI_METRICS`` overrides any key of ``DEFAULTS``. The merged value
is cached and dropped on ``setting_changed``, so ``override_settings`` works.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

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
    # Lifetime histogram buckets (seconds): from a flapping socket to a long call.
    "DURATION_BUCKETS": (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400),
    # Live age gauge-histogram buckets (seconds).
    "AGE_BUCKETS": (10, 60, 300, 900, 1800, 3600, 7200, 14400),
    # Dotted path to the WebSocket routes, so logged socket paths become templates.
    "WEBSOCKET_ROUTES": None,
    # Loggers whose records get WebSocket paths templated and query strings cut.
    "REDACT_LOGGERS": (
        "uvicorn.error",
        "uvicorn.access",
        "daphne.server",
        "daphne.ws_protocol",
        "daphne.http_protocol",
        "django.channels.server",
    ),
    # Multiprocess mode: seconds between a worker's re-derivations of its gauge files.
    "WORKER_REFRESH_SECONDS": 1.0,
    # Where the status JSON reads its counts: "local" (this process, or this
    # host's workers) or "prometheus" (the fleet, from PROMETHEUS_URL's HTTP API).
    "STATUS_SOURCE": "local",
    # Prometheus base URL for the fleet view, the job its targets carry, the
    # timeout of one query, and how long an answer is reused.
    "PROMETHEUS_URL": None,
    "PROMETHEUS_JOB": "vidai",
    "PROMETHEUS_TIMEOUT": 1.0,
    "FLEET_CACHE_SECONDS": 2.0,
}

STATUS_SOURCES: tuple[str, ...] = ("local", "prometheus")


@dataclass(frozen=True)
class ExporterSettings:
    """The merged, validated value of ``VIDAI_METRICS``."""

    token: str | None
    allowed_networks: tuple[IPNetwork, ...] | None
    trusted_proxies: tuple[IPNetwork, ...] | None
    duration_buckets: tuple[float, ...]
    age_buckets: tuple[float, ...]
    redact_loggers: tuple[str, ...]
    websocket_routes: str | None
    worker_refresh_seconds: float = 1.0
    status_source: str = "local"
    prometheus_url: str | None = None
    prometheus_job: str = "vidai"
    prometheus_timeout: float = 1.0
    fleet_cache_seconds: float = 2.0


def _networks(value: Sequence[str] | None) -> tuple[IPNetwork, ...] | None:
    if value is None:
        return None
    return tuple(ipaddress.ip_network(item, strict=False) for item in value)


@functools.cache
def get_settings() -> ExporterSettings:
    """Return the exporter settings, merged over ``DEFAULTS``."""
    merged = {**DEFAULTS, **getattr(settings, "VIDAI_METRICS", {})}
    unknown = set(merged) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown VIDAI_METRICS keys: {sorted(unknown)}")
    if merged["STATUS_SOURCE"] not in STATUS_SOURCES:
        raise ValueError(f"VIDAI_METRICS STATUS_SOURCE must be one of {STATUS_SOURCES}")
    if merged["STATUS_SOURCE"] == "prometheus" and not merged["PROMETHEUS_URL"]:
        raise ValueError('VIDAI_METRICS STATUS_SOURCE "prometheus" needs PROMETHEUS_URL')
    return ExporterSettings(
        token=merged["TOKEN"] or None,
        allowed_networks=_networks(merged["ALLOWED_NETWORKS"]),
        trusted_proxies=_networks(merged["TRUSTED_PROXIES"]),
        duration_buckets=tuple(float(b) for b in merged["DURATION_BUCKETS"]),
        age_buckets=tuple(sorted(float(b) for b in merged["AGE_BUCKETS"])),
        redact_loggers=tuple(merged["REDACT_LOGGERS"]),
        websocket_routes=merged["WEBSOCKET_ROUTES"],
        worker_refresh_seconds=float(merged["WORKER_REFRESH_SECONDS"]),
        status_source=merged["STATUS_SOURCE"],
        prometheus_url=merged["PROMETHEUS_URL"] or None,
        prometheus_job=merged["PROMETHEUS_JOB"],
        prometheus_timeout=float(merged["PROMETHEUS_TIMEOUT"]),
        fleet_cache_seconds=float(merged["FLEET_CACHE_SECONDS"]),
    )


@receiver(setting_changed)
def _drop_cached_settings(*, setting: str, **kwargs: object) -> None:
    if setting == "VIDAI_METRICS":
        get_settings.cache_clear()
