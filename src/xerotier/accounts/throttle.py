"""Throttling of sign-in, registration and reset, per account and per client IP.

Counters live in the rate-limit store (in-process now, Redis with the scale-out work), keyed by
the email address and the IP — never by anything the client can reset, such as a fresh sign-in
page or cookie. Lockouts are temporary: they lift as failures age out of the window. Unknown and
known email addresses are counted alike, so lockouts reveal nothing about which accounts exist.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

from xerotier.ratelimit.base import RateLimiter


class Action(StrEnum):
    SIGN_IN = "sign-in"
    REGISTER = "register"
    RESET = "reset"
    INVITE = "invite"  # invitations send mail and reveal whether an address has an account


@dataclass(frozen=True, slots=True)
class Rule:
    per_account: int
    per_ip: int
    window: float  # seconds


RULES = {
    Action.SIGN_IN: Rule(per_account=5, per_ip=30, window=15 * 60),
    Action.REGISTER: Rule(per_account=3, per_ip=10, window=60 * 60),
    Action.RESET: Rule(per_account=3, per_ip=10, window=60 * 60),
    Action.INVITE: Rule(per_account=20, per_ip=50, window=60 * 60),  # account = the inviter
}


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many attempts; retry in {retry_after:.0f} s")
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class Throttle:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._locks: dict[str, asyncio.Lock] = {}
        self._holders: dict[str, int] = {}

    @asynccontextmanager
    async def serialized(self, action: Action, account: str) -> AsyncIterator[None]:
        """Run check → verify → record for one account one attempt at a time.

        Without this, N parallel guesses all pass ``check`` before the first failure is recorded
        (verification awaits a hashing thread). Per process; a shared limiter must reserve
        atomically instead (see docs/security.md)."""
        key = f"{action}:{account.strip().lower()}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._holders[key] = self._holders.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._holders[key] -= 1
            if not self._holders[key]:
                del self._holders[key], self._locks[key]

    def _buckets(self, action: Action, account: str, ip: str | None) -> list[tuple[str, int]]:
        rule = RULES[action]
        buckets = [(f"throttle:{action}:acct:{account.strip().lower()}", rule.per_account)]
        if ip:
            buckets.append((f"throttle:{action}:ip:{ip}", rule.per_ip))
        return buckets

    async def check(self, action: Action, *, account: str, ip: str | None) -> None:
        """Raise :class:`Throttled` while either counter is at its limit."""
        window = RULES[action].window
        for bucket, limit in self._buckets(action, account, ip):
            decision = await self._limiter.check_budget(bucket, limit=limit, window=window)
            if not decision.allowed:
                raise Throttled(decision.retry_after)

    async def record(self, action: Action, *, account: str, ip: str | None) -> None:
        """Count one failure (sign-in) or one attempt (registration, reset)."""
        window = RULES[action].window
        for bucket, _limit in self._buckets(action, account, ip):
            await self._limiter.consume(bucket, 1, window=window)
