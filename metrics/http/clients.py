"""The address a request really came from, trusting X-Forwarded-For only from known proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ..conf import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def resolve_client(
    peer_text: str, forwarded_for: str, trusted_proxies: Sequence[IPNetwork] | None
) -> IPAddress | None:
    """Return the client's address, or None when it cannot be told.

    Without trusted proxies this is the peer. With them, and a peer among
    them, ``X-Forwarded-For`` is read from the right, skipping trusted hops:
    the first untrusted address is the client. A header the client wrote
    itself is therefore never believed.
    """
    peer = _parse(peer_text)
    if peer is None or not trusted_proxies:
        return peer

    def trusted(address: IPAddress) -> bool:
        return any(address in network for network in trusted_proxies)

    if not trusted(peer):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        address = _parse(hop)
        if address is None:
            return None  # a garbled chain: believe nothing
        if not trusted(address):
            return address
    return peer
