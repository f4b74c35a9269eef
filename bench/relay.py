"""Bare relay yardstick: the thinnest reasonable Python reverse proxy (no auth, no database).

Raw ASGI and one keep-alive client pool, configured like the gateway's. Each request's body is
POSTed to the upstream at the same path and the answer is returned as is (a server-sent event
stream chunk by chunk). The gateway's overhead is judged against this, on uvicorn (uvloop +
httptools) with aiohttp — the gateway's own stack. The variants (``--server granian``,
``--client httpx``) exist to choose the server and the upstream client by measurement: the same
relay, one part swapped.

Run: python -m bench.relay --port 9102 --upstream http://127.0.0.1:9101 [--server S] [--client C]
"""

from __future__ import annotations

import argparse
import gc
import os
from typing import Any

import aiohttp
import httpx
import uvicorn

Scope = dict[str, Any]
Receive = Any
Send = Any


class Relay:
    """aiohttp client."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.start, self.stop)
            return
        if scope["type"] != "http" or self.session is None:
            return
        body = await _read_body(receive)
        async with self.session.post(
            self.upstream + scope["path"], data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            content_type = resp.headers.get("Content-Type", "application/json").encode()
            if resp.content_type == "text/event-stream":  # pass chunks on as they arrive
                headers = [(b"content-type", content_type)]
                await send({"type": "http.response.start", "status": resp.status, "headers": headers})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            data = await resp.read()
        headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=0, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()


class HttpxRelay:
    """The same relay with an httpx client."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.start, self.stop)
            return
        if scope["type"] != "http" or self.client is None:
            return
        body = await _read_body(receive)
        request = self.client.build_request(
            "POST", self.upstream + scope["path"], content=body, headers={"Content-Type": "application/json"}
        )
        resp = await self.client.send(request, stream=True)
        try:
            content_type = resp.headers.get("Content-Type", "application/json").encode()
            if content_type.startswith(b"text/event-stream"):
                headers = [(b"content-type", content_type)]
                await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
                async for chunk in resp.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            data = await resp.aread()
        finally:
            await resp.aclose()
        headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def start(self) -> None:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=30)
        self.client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(300.0, connect=30.0))

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()


async def _lifespan(receive: Receive, send: Send, start: Any, stop: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def create_app() -> Relay | HttpxRelay:
    """Factory for granian (which imports the app by name): settings come from the environment."""
    upstream = os.environ["BENCH_RELAY_UPSTREAM"]
    if "BENCH_RELAY_GC" in os.environ:  # granian's worker is a fresh process
        gc.set_threshold(int(os.environ["BENCH_RELAY_GC"]), *gc.get_threshold()[1:])
    return HttpxRelay(upstream) if os.environ.get("BENCH_RELAY_CLIENT") == "httpx" else Relay(upstream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="Upstream origin, e.g. http://127.0.0.1:9101")
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument(
        "--gc-threshold", type=int, default=None, help="first-generation GC threshold (the gateway's: 50000)"
    )
    args = parser.parse_args()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
        os.environ["BENCH_RELAY_GC"] = str(args.gc_threshold)
    os.environ["BENCH_RELAY_UPSTREAM"] = args.upstream
    os.environ["BENCH_RELAY_CLIENT"] = args.client
    if args.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        Granian(
            "bench.relay:create_app",
            factory=True,
            address=args.host,
            port=args.port,
            interface=Interfaces.ASGI,
            loop=Loops.uvloop,
            workers=1,
            log_level="warning",  # type: ignore[arg-type]
        ).serve()
        return
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
