"""Who may read ``/metrics``: a bearer token and/or allowed networks.

One rule for both places ``/metrics`` is served: the Django view
(``denial``) and the dedicated listener (``scrape_refusal``).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.http import HttpRequest, HttpResponse

from ..conf import LOOPBACK_NETWORKS, ExporterSettings, IPNetwork, get_settings
from .answers import Answer
from .clients import resolve_client

_LOOPBACK = tuple(ipaddress.ip_network(net) for net in LOOPBACK_NETWORKS)


def _forbidden() -> Answer:
    return Answer(403, {"Content-Type": "text/plain"}, b"Forbidden\n")


def _unauthorized() -> Answer:
    headers = {"Content-Type": "text/plain", "WWW-Authenticate": 'Bearer realm="metrics"'}
    return Answer(401, headers, b"Unauthorized\n")


def _bearer_token(authorization: str) -> str | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def allowed_networks(config: ExporterSettings) -> tuple[IPNetwork, ...] | None:
    """Return the networks that may scrape, or None for any address."""
    if config.allowed_networks is not None:
        return config.allowed_networks
    return None if config.token else _LOOPBACK


def scrape_refusal(*, peer: str, forwarded_for: str, authorization: str) -> Answer | None:
    """Return the 403/401 answer for a scrape that may not read, else None."""
    config = get_settings()
    networks = allowed_networks(config)
    if networks is not None:
        client = resolve_client(peer, forwarded_for, config.trusted_proxies)
        if client is None or not any(client in net for net in networks):
            return _forbidden()
    if config.token:
        offered = _bearer_token(authorization)
        if offered is None or not hmac.compare_digest(
            offered.encode("utf-8"), config.token.encode("utf-8")
        ):
            return _unauthorized()
    return None


def denial(request: HttpRequest) -> HttpResponse | None:
    """Return the 401/403 response for a request that may not scrape, else None."""
    refusal = scrape_refusal(
        peer=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.headers.get("X-Forwarded-For", ""),
        authorization=request.headers.get("Authorization", ""),
    )
    return None if refusal is None else refusal.django()
