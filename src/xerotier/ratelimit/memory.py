"""In-process sliding-window limiter.

A true sliding log, not a fixed window: at most ``limit`` requests in *any* window, and a burst
of ``limit`` requests at once is accepted whole. Memory is at most ``limit`` timestamps per
bucket; buckets are endpoints, so this stays small.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from xerotier.ratelimit.base import Decision


class _Budget:
    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0


class MemoryRateLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, deque[float]] = {}
        self._budgets: dict[str, _Budget] = {}

    async def hit(self, bucket: str, *, limit: int, window: float) -> Decision:
        now = self._clock()
        log = self._requests.get(bucket)
        if log is None:
            log = self._requests[bucket] = deque()
        horizon = now - window
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= limit:
            return Decision(False, limit, 0, log[0] - horizon)
        log.append(now)
        return Decision(True, limit, limit - len(log), 0.0)

    def _prune(self, bucket: str, window: float) -> _Budget:
        budget = self._budgets.get(bucket)
        if budget is None:
            budget = self._budgets[bucket] = _Budget()
        horizon = self._clock() - window
        while budget.entries and budget.entries[0][0] <= horizon:
            budget.total -= budget.entries.popleft()[1]
        return budget

    async def check_budget(self, bucket: str, *, limit: int, window: float) -> Decision:
        budget = self._prune(bucket, window)
        if budget.total < limit:
            return Decision(True, limit, limit - budget.total, 0.0)
        # Wait until enough old charges leave the window to get below the limit.
        excess, horizon = budget.total - limit, self._clock() - window
        for stamp, amount in budget.entries:
            excess -= amount
            if excess < 0:
                return Decision(False, limit, 0, stamp - horizon)
        return Decision(False, limit, 0, window)

    async def consume(self, bucket: str, amount: int, *, window: float) -> None:
        if amount <= 0:
            return
        budget = self._prune(bucket, window)
        budget.entries.append((self._clock(), amount))
        budget.total += amount
