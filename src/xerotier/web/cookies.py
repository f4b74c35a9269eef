"""Cookie names and attributes, in one place.

``__Host-`` makes the browser refuse the cookie unless it is Secure, Path=/ and has no Domain —
so no sibling subdomain can plant or overwrite it. Browsers treat http://localhost and
http://127.0.0.1 as secure contexts, so these cookies also work in local development over HTTP.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

SESSION = "__Host-xerotier_session"
PRESESSION = "__Host-xerotier_presession"


def header(name: str, value: str, *, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode()


def clear(name: str) -> bytes:
    return header(name, "", max_age=0)


def parse(raw: bytes | None) -> dict[str, str]:
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header is treated as no cookies
        return {}
    return {key: morsel.value for key, morsel in jar.items()}
