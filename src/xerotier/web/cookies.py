"""Cookie names and attributes, in one place.

``__Host-`` makes the browser refuse the cookie unless it is Secure, Path=/ and has no Domain —
so no sibling subdomain can plant or overwrite it. Browsers treat http://localhost and
http://127.0.0.1 as secure contexts, so these cookies also work in local development over HTTP.
"""

from __future__ import annotations

import re

SESSION = "__Host-xerotier_session"
PRESESSION = "__Host-xerotier_presession"


def header(name: str, value: str, *, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode()


def clear(name: str) -> bytes:
    return header(name, "", max_age=0)


# Our cookie values are 256-bit tokens from secrets.token_urlsafe: exactly this shape.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def parse(raw: bytes | None) -> dict[str, str]:
    """Our cookies from a Cookie header, parsed strictly.

    Split on ``;`` only (never on spaces or inside quotes, as ``http.cookies.SimpleCookie`` does), keep
    the *first* occurrence of each name (the browser sends host-only ``__Host-`` cookies before
    cookies planted for a parent domain), and accept only values shaped like our tokens. A sibling
    subdomain therefore cannot smuggle a session or pre-session cookie past the ``__Host-`` rule.
    """
    if not raw:
        return {}
    found: dict[str, str] = {}
    for part in raw.decode("latin-1").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name in (SESSION, PRESESSION) and name not in found:
            found[name] = value.strip()
    return {name: value for name, value in found.items() if _TOKEN.fullmatch(value)}


def present(raw: bytes | None, name: str) -> bool:
    """Whether the header names the cookie at all (valid or not), so a bad one can be cleared."""
    return bool(raw) and any(
        part.strip().partition("=")[0] == name for part in (raw or b"").decode("latin-1").split(";")
    )
