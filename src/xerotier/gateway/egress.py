"""Where the gateway may connect: a guard against server-side request forgery.

Endpoint owners choose upstream URLs, so the gateway must not become a way to reach what only it
can reach. Addresses in the denied networks — by default link-local ranges, where cloud metadata
services live (169.254.169.254 hands out cloud credentials) — are refused whether they come from
an IP literal in the URL or from DNS at connect time (so a rebinding name cannot slip through).
Redirects are never followed (see app.py). Operators add ranges with XEROTIER_UPSTREAM_DENIED_NETWORKS.
Loopback and private ranges stay allowed by default: model servers usually live there.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from xerotier.security.networks import Network, contains, parse_networks

__all__ = ["DEFAULT_DENIED", "GuardedResolver", "Network", "denied", "parse_networks", "url_denied"]

DEFAULT_DENIED = "169.254.0.0/16,fe80::/10,fd00:ec2::254/128"


def denied(address: str, networks: Sequence[Network]) -> bool:
    return contains(networks, address)


def url_denied(url: str, networks: Sequence[Network]) -> bool:
    """True when the URL names a denied IP literal (names are checked when resolved)."""
    return denied(urlsplit(url).hostname or "", networks)


class GuardedResolver(ThreadedResolver):
    """The default resolver, minus answers in denied networks."""

    def __init__(self, networks: Sequence[Network]) -> None:
        super().__init__()
        self._networks = list(networks)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        allowed = [r for r in results if not denied(r["host"], self._networks)]
        if not allowed:
            raise OSError(f"upstream host {host!r} resolves only to denied addresses")
        return allowed
