"""Bare relay yardstick: the thinnest reasonable Python reverse proxy (no auth, no database).

Raw ASGI on uvicorn (uvloop + httptools) and one aiohttp ``ClientSession`` with a keep-alive pool,
configured like the gateway's. Each request's body is POSTed to the upstream at the same path and
the answer is returned as is (a server-sent event stream chunk by chunk). The gateway's overhead
is judged against this.

Run: python -m bench.relay --port 9102 --upstream http://127.0.0.1:9101
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn

Scope = dict[str, Any]
Receive = Any
Send = Any


class Relay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
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

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=256, limit_per_host=0, keepalive_timeout=30)
                self.session = aiohttp.ClientSession(
                    connector=connector,
                    auto_decompress=False,
                    skip_auto_headers=("User-Agent", "Accept-Encoding"),
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="Upstream origin, e.g. http://127.0.0.1:9101")
    args = parser.parse_args()
    uvicorn.run(
        Relay(args.upstream),
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
