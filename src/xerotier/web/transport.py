"""HTTPS rules and trusted proxies (DESIGN §6 "Transport").

In production, a request that did not arrive over HTTPS is refused — the inference API with an
OpenAI-style error, pages with an error page, never a redirect (a redirect would already have
sent the API key in clear) — except the health probes load balancers call over plain HTTP. Every
HTTPS response carries HSTS for a year. ``X-Forwarded-Proto``/``-For`` are believed only when the
direct peer is a configured proxy.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xerotier.gateway.errors import envelope
from xerotier.security.networks import Network, contains, parse_networks

HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
PROBES = frozenset({"/healthz", "/readyz"})
__all__ = ["TransportMiddleware", "parse_networks"]


class TransportMiddleware:
    def __init__(self, app: ASGIApp, *, production: bool, trusted_proxies: Sequence[Network]) -> None:
        self.app = app
        self.production = production
        self.trusted = list(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.trusted:
            self._apply_forwarded(scope)
        if not self.production:
            await self.app(scope, receive, send)
            return
        if scope.get("scheme") != "https":
            if scope["path"] in PROBES:
                await self.app(scope, receive, send)
            else:
                await _refuse_plain_http(scope, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), HSTS]
            await send(message)

        await self.app(scope, receive, send_with_hsts)

    def _apply_forwarded(self, scope: Scope) -> None:
        client = scope.get("client")
        if not client or not contains(self.trusted, client[0]):
            return
        proto = forwarded_for = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
            elif name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
        if proto in ("http", "https"):
            scope["scheme"] = proto
        if forwarded_for:
            # The right-most address not belonging to our proxies is the real client.
            for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
                if not contains(self.trusted, hop):
                    try:
                        ipaddress.ip_address(hop)
                    except ValueError:
                        break
                    scope["client"] = (hop, 0)
                    break


async def _refuse_plain_http(scope: Scope, send: Send) -> None:
    message = "HTTPS is required. Plain HTTP requests are refused; use the https:// URL."
    if scope["path"].startswith("/proj_") or scope["path"].startswith("/api/"):
        body = envelope(400, "https_required", message)
        content_type = b"application/json"
    else:
        body = (
            b"<!doctype html><meta charset=utf-8><title>HTTPS required</title>"
            b"<h1>HTTPS required</h1><p>" + message.encode() + b"</p>"
        )
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-request-id", ("req_" + secrets.token_hex(12)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
