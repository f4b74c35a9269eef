"""What the exact sliding-log rate limiter costs with a full window (docs/performance.md).

Run: python -m bench.limiter [--rate 4000]
Fills one bucket's 60 s window at ``--rate`` requests/s on a simulated clock (after a start-up
style ``gc.freeze()``, as in the server), then reports the entries and memory held, the cost of a
hit in the steady state (one in, one out), and how much longer a full collection takes with it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc

from xerotier.ratelimit.memory import MemoryRateLimiter

WINDOW = 60.0
LIMIT = 100_000_000  # as in the benchmark: never refuses


async def measure(rate: int) -> None:
    gc.collect()
    gc.freeze()
    now = 0.0
    limiter = MemoryRateLimiter(clock=lambda: now)
    tracemalloc.start()
    filled = int(rate * WINDOW)
    for i in range(filled):
        now = i / rate
        await limiter.hit("rpm:1", limit=LIMIT, window=WINDOW)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"window full at {rate} requests/s: {filled} entries, {held / 1e6:.1f} MB")
    steady = 200_000
    started = time.perf_counter()
    for i in range(filled, filled + steady):
        now = i / rate
        await limiter.hit("rpm:1", limit=LIMIT, window=WINDOW)
    print(f"hit, steady state, await included: {(time.perf_counter() - started) / steady * 1e6:.2f} us")
    gc.collect()
    started = time.perf_counter()
    gc.collect()
    with_window = time.perf_counter() - started
    del limiter
    gc.collect()
    started = time.perf_counter()
    gc.collect()
    without = time.perf_counter() - started
    print(f"full collection: {with_window * 1e3:.2f} ms with the window, {without * 1e3:.2f} ms without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=4000)
    asyncio.run(measure(parser.parse_args().rate))


if __name__ == "__main__":
    main()
