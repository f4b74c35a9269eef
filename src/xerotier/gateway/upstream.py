"""Pooled keep-alive HTTP client for upstream model servers (aiohttp).

aiohttp was chosen over httpx for the relay on the measured per-request CPU cost (see
docs/performance.md); one ``ClientSession`` per process holds the connection pool.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from xerotier.gateway.egress import GuardedResolver, Network


def create_session(
    *, pool_size: int, connect_timeout: float, read_timeout: float, denied_networks: Sequence[Network]
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=pool_size,
        limit_per_host=0,
        ttl_dns_cache=300,
        keepalive_timeout=30,
        # DNS answers in denied networks are dropped once per lookup (not per request): a name
        # that resolves to a metadata address cannot be reached, whatever it resolved to before.
        resolver=GuardedResolver(denied_networks),
    )
    # ``connect`` also bounds the wait for a free pooled connection, so a tenant whose upstream
    # trickles bytes on every connection cannot make other tenants' requests queue forever.
    timeout = aiohttp.ClientTimeout(
        total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,  # relay bytes as they are
        skip_auto_headers=("User-Agent", "Accept-Encoding"),  # identity: bytes relay verbatim
        raise_for_status=False,
        # A relay keeps no cookies: upstream Set-Cookie headers must not leak between tenants, and
        # an empty dummy jar skips the per-request cookie filtering and storing.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


# Errors meaning "could not reach or talk to the upstream" (→ 502); timeouts are separate (→ 504).
CONNECTION_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError)
