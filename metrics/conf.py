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
}


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
    return ExporterSettings(
        token=merged["TOKEN"] or None,
        allowed_networks=_networks(merged["ALLOWED_NETWORKS"]),
        trusted_proxies=_networks(merged["TRUSTED_PROXIES"]),
        duration_buckets=tuple(float(b) for b in merged["DURATION_BUCKETS"]),
        age_buckets=tuple(sorted(float(b) for b in merged["AGE_BUCKETS"])),
        redact_loggers=tuple(merged["REDACT_LOGGERS"]),
        websocket_routes=merged["WEBSOCKET_ROUTES"],
    )


@receiver(setting_changed)
def _drop_cached_settings(*, setting: str, **kwargs: object) -> None:
    if setting == "VIDAI_METRICS":
        get_settings.cache_clear()
