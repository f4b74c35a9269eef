from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until one more unit fits; 0 when allowed


class RateLimiter(Protocol):
    async def hit(self, bucket: str, *, limit: int, window: float) -> Decision:
        """Count one request if it fits: at most ``limit`` in any ``window`` seconds."""
        ...

    async def check_budget(self, bucket: str, *, limit: int, window: float) -> Decision:
        """Is anything left of a consumable budget (tokens) in the trailing window?"""
        ...

    async def consume(self, bucket: str, amount: int, *, window: float) -> None:
        """Charge a budget after the fact (tokens are known when the response ends)."""
        ...
