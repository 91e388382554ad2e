import ipaddress

import pytest

from metrics.http.clients import resolve_client

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.5", None, None, "203.0.113.5"),
        ("10.0.0.2", "198.51.100.7", None, "10.0.0.2"),  # no trusted proxies: header ignored
        ("10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", PROXIES, "198.51.100.7"),
        ("203.0.113.5", "127.0.0.1", PROXIES, "203.0.113.5"),  # untrusted peer: header ignored
        ("10.0.0.2", "not-an-ip", PROXIES, None),
        ("10.0.0.2", "", PROXIES, None),
        ("garbage", None, PROXIES, None),
        ("::ffff:10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),  # dual-stack peer
        ("::ffff:203.0.113.5", None, None, "203.0.113.5"),
    ],
)
def test_resolve_client(peer, forwarded, proxies, expected) -> None:
    found = resolve_client(peer, forwarded or "", proxies)
    assert (str(found) if found else None) == expected
