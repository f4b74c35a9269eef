"""IP networks from settings, and membership tests that never raise on junk input."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> list[Network]:
    """``"10.0.0.0/8, 192.0.2.7"`` → networks (a bare address is a /32 or /128)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]


def contains(networks: Sequence[Network], address: str) -> bool:
    """Whether ``address`` lies in any of ``networks``; IPv4-mapped IPv6 counts as IPv4, zone ids
    are ignored, and anything that is not an IP address is in none of them."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
