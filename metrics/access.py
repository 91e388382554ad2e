"""Who may read ``/metrics``: a bearer token and/or allowed networks."""

from __future__ import annotations

import hmac
import ipaddress

from django.http import HttpRequest, HttpResponse

from .clients import client_address
from .conf import LOOPBACK_NETWORKS, ExporterSettings, IPNetwork, get_settings

_LOOPBACK = tuple(ipaddress.ip_network(net) for net in LOOPBACK_NETWORKS)


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _client_in(
    request: HttpRequest, config: ExporterSettings, networks: tuple[IPNetwork, ...]
) -> bool:
    client = client_address(request, config.trusted_proxies)
    return client is not None and any(client in net for net in networks)


def allowed_networks(config: ExporterSettings) -> tuple[IPNetwork, ...] | None:
    """Return the networks that may scrape, or None for any address."""
    if config.allowed_networks is not None:
        return config.allowed_networks
    return None if config.token else _LOOPBACK


def denial(request: HttpRequest) -> HttpResponse | None:
    """Return the 401/403 response for a request that may not scrape, else None."""
    config = get_settings()
    networks = allowed_networks(config)
    if networks is not None and not _client_in(request, config, networks):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    if config.token:
        offered = _bearer_token(request)
        if offered is None or not hmac.compare_digest(
            offered.encode("utf-8"), config.token.encode("utf-8")
        ):
            response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return None
