"""Django system checks for the exporter, with stable ids.

- ``vidai_metrics.W001``: /metrics readable from public addresses without a token, DEBUG off.
- ``vidai_metrics.W002``: a WebSocket route not wrapped with ``track()``.
- ``vidai_metrics.E001``: the multiprocess directory is missing or not writable.
- ``vidai_metrics.E002``: the WebSocket routes (``WEBSOCKET_ROUTES``, or
  ``ASGI_APPLICATION`` when it is unset) cannot be imported.
- ``vidai_metrics.E003``: a ``VIDAI_METRICS`` value is invalid (one error each).
- ``vidai_metrics.W003``: a setting of an earlier release that is no longer read.
- ``vidai_metrics.W004``: ``CONNECTION_LIMIT_BY_TYPE`` names a type no tracked route has.
- ``vidai_metrics.W005``: ``DURATION_BUCKETS`` lacks the bound the bundled churn alert reads.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .asgi.routes import project_routes, tracked_endpoints, untracked_routes
from .conf import IPNetwork, get_settings, multiprocess_dir, settings_problems
from .http.access import allowed_networks

# The lifetime bound (seconds) the bundled churn rule reads
# (metrics.ops_assets.Config.churn_lifetime's default).
CHURN_BOUND = 5.0

# Django settings of an earlier release, and the VIDAI_METRICS key each became.
_MOVED_SETTINGS = {
    "VIDAI_STATUS_RATE_LIMIT": "STATUS_RATE_LIMIT",
    "VIDAI_STATUS_CORS_ORIGINS": "STATUS_CORS_ORIGINS",
}


# Addresses no one on the internet can have: loopback, RFC 1918, shared
# (carrier-grade NAT), link-local, IPv6 unique-local and link-local.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def _public(network: IPNetwork) -> bool:
    """Whether ``network`` holds any address outside the private ranges."""
    return not any(
        network.version == private.version and network.subnet_of(private)  # type: ignore[arg-type]
        for private in _PRIVATE_NETWORKS
    )


@register()
def check_settings(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """Report every invalid ``VIDAI_METRICS`` value, and settings that are no longer read."""
    messages: list[CheckMessage] = [
        Error(
            problem,
            hint="See docs/settings.md for each key's form.",
            id="vidai_metrics.E003",
        )
        for problem in settings_problems()
    ]
    messages.extend(
        Warning(
            f"settings.{old} is no longer read.",
            hint=f"Set VIDAI_METRICS[{new!r}] instead.",
            obj=old,
            id="vidai_metrics.W003",
        )
        for old, new in _MOVED_SETTINGS.items()
        if hasattr(settings, old)
    )
    return messages


@register(Tags.security, deploy=True)
def check_metrics_protected(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when /metrics is readable from a public address without a token and DEBUG is off.

    ``0.0.0.0/1, 128.0.0.0/1`` is as open as ``0.0.0.0/0``: any network not
    inside the private ranges counts.
    """
    if settings_problems():
        return []  # E003 says what is wrong first
    config = get_settings()
    if settings.DEBUG or config.token:
        return []
    public = [str(net) for net in allowed_networks(config) or () if _public(net)]
    if not public:
        return []
    return [
        Warning(
            f"/metrics is readable from public addresses ({', '.join(public)}) "
            "without a token while DEBUG is False.",
            hint="Set VIDAI_METRICS['TOKEN'] (VIDAI_METRICS_TOKEN) or narrow ALLOWED_NETWORKS.",
            id="vidai_metrics.W001",
        )
    ]


@register(Tags.urls)
def check_websocket_routes_tracked(
    app_configs: Sequence[Any] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Warn about WebSocket routes of the project that nothing counts."""
    if settings_problems():
        return []
    try:
        routes = project_routes()
    except ImportError as error:
        dotted = get_settings().websocket_routes or settings.ASGI_APPLICATION
        return [
            Error(
                f"The WebSocket routes {dotted!r} cannot be imported: {error}",
                hint="Set VIDAI_METRICS['WEBSOCKET_ROUTES'] to the dotted path of the route list.",
                id="vidai_metrics.E002",
            )
        ]
    messages: list[CheckMessage] = [
        Warning(
            f"WebSocket route {pattern!r} is not wrapped with metrics.track(); "
            "its sockets are not counted.",
            hint='Wrap the app: path(..., track("<type>", Consumer.as_asgi())).',
            obj=pattern,
            id="vidai_metrics.W002",
        )
        for pattern in untracked_routes(routes)
    ]
    types = tracked_endpoints(routes)
    messages += [
        Warning(
            f"VIDAI_METRICS['CONNECTION_LIMIT_BY_TYPE'] names {socket_type!r}, which no "
            "tracked route has: its limit is exported, but no socket is ever counted against it.",
            hint=f"Socket types of the routes: {', '.join(sorted(types)) or 'none'}.",
            obj=socket_type,
            id="vidai_metrics.W004",
        )
        for socket_type, _ in get_settings().connection_limit_by_type
        if socket_type not in types
    ]
    return messages


@register()
def check_duration_buckets(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when the lifetime histogram lacks the bound the bundled churn alert reads."""
    if settings_problems():
        return []
    if CHURN_BOUND in get_settings().duration_buckets:
        return []
    return [
        Warning(
            f"VIDAI_METRICS['DURATION_BUCKETS'] has no {CHURN_BOUND:g} s bound: the bundled "
            f'churn alert reads le="{CHURN_BOUND!r}" and never fires.',
            hint="Add the bound; if your ops assets are rendered with another "
            "churn_lifetime (--set churn_lifetime=<one of the bounds>), add "
            "vidai_metrics.W005 to SILENCED_SYSTEM_CHECKS.",
            id="vidai_metrics.W005",
        )
    ]


@register()
def check_multiprocess_dir(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """Error when prometheus_client's multiprocess directory is missing or not writable."""
    directory = multiprocess_dir()
    if directory is None:
        return []
    if os.path.isdir(directory) and os.access(directory, os.W_OK | os.X_OK):
        return []
    return [
        Error(
            f"PROMETHEUS_MULTIPROC_DIR {directory!r} is missing or not writable: "
            "worker metrics cannot be written or merged.",
            hint="Create it (empty) before the workers start; gunicorn.conf.py does this.",
            id="vidai_metrics.E001",
        )
    ]
