"""The SSRF guard: denied networks are refused as IP literals and as DNS answers."""

from __future__ import annotations

import pytest

from xerotier.gateway.egress import DEFAULT_DENIED, GuardedResolver, denied, parse_networks, url_denied

DEFAULT = parse_networks(DEFAULT_DENIED)


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254", "fe80::1%eth0", "fd00:ec2::254"],
)
def test_metadata_and_link_local_addresses_are_denied_by_default(address: str) -> None:
    assert denied(address, DEFAULT)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.5", "192.168.1.20", "::1", "203.0.113.9", "not-an-ip"]
)
def test_model_servers_on_loopback_private_and_public_addresses_are_allowed(address: str) -> None:
    assert not denied(address, DEFAULT)


def test_url_literals() -> None:
    assert url_denied("http://169.254.169.254/latest/meta-data", DEFAULT)
    assert url_denied("http://[fe80::1]:8080/v1", DEFAULT)
    assert not url_denied("http://127.0.0.1:8001/v1", DEFAULT)
    assert not url_denied("https://models.example.com/v1", DEFAULT)  # names are checked when resolved


async def test_resolver_drops_denied_answers() -> None:
    assert await GuardedResolver(DEFAULT).resolve("localhost", 80)
    with pytest.raises(OSError, match="denied"):
        await GuardedResolver(parse_networks("127.0.0.0/8,::1/128")).resolve("localhost", 80)
