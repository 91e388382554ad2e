"""Django system checks for the exporter, with stable ids (``vidai_metrics.W001``...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from .access import allowed_networks
from .conf import LOOPBACK_NETWORKS, get_settings


@register(Tags.security, deploy=True)
def check_metrics_protected(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when /metrics is readable by any network without a token and DEBUG is off."""
    config = get_settings()
    if settings.DEBUG or config.token:
        return []
    networks = allowed_networks(config) or ()
    loopback = {str(net) for net in LOOPBACK_NETWORKS}
    wide = [str(net) for net in networks if str(net) not in loopback and net.prefixlen == 0]
    if not wide:
        return []
    return [
        Warning(
            "/metrics is readable from any address without a token while DEBUG is False.",
            hint="Set VIDAI_METRICS['TOKEN'] (VIDAI_METRICS_TOKEN) or narrow ALLOWED_NETWORKS.",
            id="vidai_metrics.W001",
        )
    ]
