"""Streaming probe on raw asyncio sockets: time to first body byte, and when each SSE chunk lands.

Requests start ``stagger`` seconds apart (an odd step, so the paced chunks of different streams
rarely coincide) instead of one after another, which keeps the probe short.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass(slots=True)
class StreamSample:
    status: int
    first_byte_s: float  # request written → first body byte
    arrivals: list[float]  # seconds after the request was written, one per read carrying "data:"


async def stream_once(port: int, path: str, body: bytes, headers: dict[str, str]) -> StreamSample:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    buffered, status = b"", 0
    first: float | None = None
    arrivals: list[float] = []
    try:
        started = time.perf_counter()
        writer.write(head.encode() + body)
        while data := await reader.read(65536):
            elapsed = time.perf_counter() - started
            if not status:
                buffered += data
                end = buffered.find(b"\r\n\r\n")
                if end < 0:
                    continue
                status = int(buffered.split(b" ", 2)[1])
                data = buffered[end + 4 :]
            if data and first is None:
                first = elapsed
            if b"data:" in data:
                arrivals.append(elapsed)
    finally:
        writer.close()
    if first is None:
        raise RuntimeError(f"no response body from 127.0.0.1:{port}{path} (status {status})")
    return StreamSample(status=status, first_byte_s=first, arrivals=arrivals)


async def _probe(
    port: int, path: str, body: bytes, headers: dict[str, str], count: int, stagger: float
) -> list[StreamSample]:
    async def one(index: int) -> StreamSample:
        await asyncio.sleep(index * stagger)
        return await stream_once(port, path, body, headers)

    return await asyncio.gather(*(one(i) for i in range(count)))


def probe(
    port: int, path: str, body: bytes, headers: dict[str, str], *, count: int, stagger: float = 0.037
) -> list[StreamSample]:
    return asyncio.run(_probe(port, path, body, headers, count, stagger))


def median_first_byte_ms(samples: list[StreamSample]) -> float:
    return statistics.median(s.first_byte_s for s in samples) * 1000.0


def gaps_ms(samples: list[StreamSample]) -> list[float]:
    return [(b - a) * 1000.0 for s in samples for a, b in zip(s.arrivals, s.arrivals[1:], strict=False)]


def chunks_spaced(samples: list[StreamSample], *, pace: float, chunks: int) -> bool:
    """Every stream delivered ``chunks`` separate reads, each roughly ``pace`` after the one before.

    A buffering proxy shows up as fewer reads with gaps of 0 or of several paces; the tolerance
    leaves room for a stall of a few tens of milliseconds (e.g. a garbage-collection pause), which
    ``gaps_ms`` reports separately.
    """
    return all(
        s.status == 200
        and len(s.arrivals) == chunks
        and all(0.5 * pace <= b - a <= 1.5 * pace for a, b in zip(s.arrivals, s.arrivals[1:], strict=False))
        for s in samples
    )
