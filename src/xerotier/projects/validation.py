"""Input rules shared by the CLI and the dashboard."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from urllib.parse import urlsplit

from xerotier.errors import ValidationError
from xerotier.gateway.egress import DEFAULT_DENIED, parse_networks, url_denied
from xerotier.security.api_keys import SLUG_RE

_DURATION_RE = re.compile(r"([0-9]{1,10})([smhdw])")  # ASCII digits only; use fullmatch
MAX_DURATION = timedelta(days=36500)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_CIDRS = 100
DEFAULT_DENIED_NETWORKS = parse_networks(DEFAULT_DENIED)


def slug(value: str, *, what: str = "slug") -> str:
    if not SLUG_RE.fullmatch(value):
        raise ValidationError(
            f"{what} must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            param=what,
        )
    return value


def name(value: str, *, what: str = "name") -> str:
    value = value.strip()
    if not 1 <= len(value) <= 200:
        raise ValidationError(f"{what} must be 1-200 characters", param=what)
    return value


def upstream_url(value: str) -> str:
    value = value.strip()
    error = ValidationError(
        "upstream URL must be an http(s) URL such as http://127.0.0.1:8001/v1", param="upstream_url"
    )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise error from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error
    if url_denied(value, DEFAULT_DENIED_NETWORKS):
        raise ValidationError(
            "upstream address not allowed: link-local and cloud-metadata addresses are refused",
            param="upstream_url",
        )
    if "?" in value or "#" in value or parts.username or parts.password:
        raise ValidationError(
            "upstream URL must not carry a query, fragment or credentials", param="upstream_url"
        )
    return value.rstrip("/")


def limit(value: int | None, *, what: str) -> int | None:
    if value is not None and value <= 0:
        raise ValidationError(f"{what} must be a positive integer", param=what)
    return value


def duration(value: str) -> timedelta:
    match = _DURATION_RE.fullmatch(value.strip())
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            f"duration must look like 90s, 15m, 12h, 30d or 2w (got {value!r})", param="expires_in"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise ValidationError("duration must be at most 100 years", param="expires_in")
    return timedelta(seconds=seconds)


def cidrs(values: list[str]) -> list[str]:
    if len(values) > MAX_CIDRS:
        raise ValidationError(f"at most {MAX_CIDRS} allowed networks", param="allowed_ips")
    out = []
    for raw in values:
        try:
            out.append(str(ipaddress.ip_network(raw.strip(), strict=False)))
        except ValueError as exc:
            raise ValidationError(f"not an IP address or CIDR: {raw!r}", param="allowed_ips") from exc
    return out
