"""In-process sliding-window limiter, driven by a clock the test controls.

Times are multiples of 1/8 s so every sum and difference is exact in floating point and the
boundaries (an entry leaves the window exactly ``window`` seconds later) can be asserted exactly.
"""

from __future__ import annotations

import random

import pytest

from xerotier.ratelimit.memory import MemoryRateLimiter

WINDOW = 60.0


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock=clock)


# -- request limiter ---------------------------------------------------------------------------


async def test_a_burst_of_limit_requests_is_accepted_whole_and_the_next_is_refused(
    limiter: MemoryRateLimiter, clock: Clock
) -> None:
    for i in range(5):
        decision = await limiter.hit("b", limit=5, window=WINDOW)
        assert decision.allowed
        assert decision.limit == 5
        assert decision.remaining == 4 - i
        assert decision.retry_after == 0.0
    refused = await limiter.hit("b", limit=5, window=WINDOW)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after > 0
    assert refused.retry_after == WINDOW  # all five were at this instant


async def test_refusals_are_not_counted(limiter: MemoryRateLimiter, clock: Clock) -> None:
    await limiter.hit("b", limit=1, window=WINDOW)
    for _ in range(100):
        assert not (await limiter.hit("b", limit=1, window=WINDOW)).allowed
    clock.now += WINDOW
    assert (await limiter.hit("b", limit=1, window=WINDOW)).allowed


async def test_sliding_window_lets_exactly_one_more_in_when_the_oldest_ages_out(
    limiter: MemoryRateLimiter, clock: Clock
) -> None:
    start = clock.now
    for offset in (0, 10, 20):
        clock.now = start + offset
        assert (await limiter.hit("b", limit=3, window=WINDOW)).allowed

    clock.now = start + 30
    refused = await limiter.hit("b", limit=3, window=WINDOW)
    assert not refused.allowed
    assert refused.retry_after == 30  # the request at +0 leaves the window at +60

    clock.now = start + 60 - 0.125
    assert not (await limiter.hit("b", limit=3, window=WINDOW)).allowed

    clock.now = start + 60
    assert (await limiter.hit("b", limit=3, window=WINDOW)).allowed
    second = await limiter.hit("b", limit=3, window=WINDOW)
    assert not second.allowed
    assert second.retry_after == 10  # now the request at +10 is the oldest


async def test_retry_after_is_exact(limiter: MemoryRateLimiter, clock: Clock) -> None:
    start = clock.now
    for offset in (0, 7.5, 8):
        clock.now = start + offset
        await limiter.hit("b", limit=3, window=WINDOW)
    clock.now = start + 12.25
    refused = await limiter.hit("b", limit=3, window=WINDOW)
    assert not refused.allowed
    clock.now += refused.retry_after - 0.125
    assert not (await limiter.hit("b", limit=3, window=WINDOW)).allowed
    clock.now = start + 12.25 + refused.retry_after
    assert (await limiter.hit("b", limit=3, window=WINDOW)).allowed


async def test_buckets_are_independent(limiter: MemoryRateLimiter) -> None:
    assert (await limiter.hit("rpm:1", limit=1, window=WINDOW)).allowed
    assert not (await limiter.hit("rpm:1", limit=1, window=WINDOW)).allowed
    assert (await limiter.hit("rpm:2", limit=1, window=WINDOW)).allowed


def _timestamps(rng: random.Random, count: int) -> list[float]:
    """Bursts, trickles and long pauses, on a 1/8 s grid."""
    now, out = 0.0, []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.35:
            gap = 0.0  # burst
        elif kind < 0.85:
            gap = rng.randrange(0, 8 * 10) / 8  # up to 10 s
        elif kind < 0.97:
            gap = rng.randrange(0, 8 * 70) / 8  # around a window
        else:
            gap = 60.0  # exactly one window
        now += gap
        out.append(now)
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("limit", [1, 3, 10])
async def test_at_most_limit_in_any_window_against_a_brute_force_model(seed: int, limit: int) -> None:
    rng = random.Random(seed * 1000 + limit)
    clock = Clock(0.0)
    limiter = MemoryRateLimiter(clock=clock)
    accepted: list[float] = []
    for t in _timestamps(rng, 600):
        clock.now = t
        decision = await limiter.hit("b", limit=limit, window=WINDOW)
        in_window = [a for a in accepted if t - WINDOW < a <= t]
        expected = len(in_window) < limit
        assert decision.allowed is expected, (t, in_window)
        if decision.allowed:
            accepted.append(t)
            assert decision.remaining == limit - len(in_window) - 1
        else:
            assert decision.retry_after == min(in_window) + WINDOW - t
            assert decision.retry_after > 0
    # The defining property, checked independently: no window of 60 s ever holds more than the limit.
    for start in accepted:
        assert sum(1 for a in accepted if start <= a < start + WINDOW) <= limit
    assert len(accepted) >= limit  # the sequence did exercise the limiter


# -- token budget ------------------------------------------------------------------------------


async def test_empty_budget_is_allowed_with_everything_remaining(limiter: MemoryRateLimiter) -> None:
    decision = await limiter.check_budget("tpm", limit=1000, window=WINDOW)
    assert decision.allowed
    assert decision.remaining == 1000
    assert decision.retry_after == 0.0


async def test_budget_allows_while_below_the_limit_and_refuses_at_it(
    limiter: MemoryRateLimiter, clock: Clock
) -> None:
    await limiter.consume("tpm", 999, window=WINDOW)
    decision = await limiter.check_budget("tpm", limit=1000, window=WINDOW)
    assert decision.allowed
    assert decision.remaining == 1

    await limiter.consume("tpm", 1, window=WINDOW)
    refused = await limiter.check_budget("tpm", limit=1000, window=WINDOW)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after == WINDOW


async def test_check_budget_does_not_consume(limiter: MemoryRateLimiter) -> None:
    for _ in range(10):
        decision = await limiter.check_budget("tpm", limit=10, window=WINDOW)
        assert decision.allowed
        assert decision.remaining == 10


async def test_non_positive_consumption_is_ignored(limiter: MemoryRateLimiter) -> None:
    await limiter.consume("tpm", 0, window=WINDOW)
    await limiter.consume("tpm", -500, window=WINDOW)
    decision = await limiter.check_budget("tpm", limit=10, window=WINDOW)
    assert decision.remaining == 10


async def test_budget_charges_leave_the_window(limiter: MemoryRateLimiter, clock: Clock) -> None:
    start = clock.now
    await limiter.consume("tpm", 600, window=WINDOW)
    clock.now = start + 10
    await limiter.consume("tpm", 500, window=WINDOW)

    clock.now = start + 20
    refused = await limiter.check_budget("tpm", limit=1000, window=WINDOW)
    assert not refused.allowed
    assert refused.retry_after == 40  # dropping the 600 at +0 (at +60) gets below the limit

    clock.now = start + 60
    decision = await limiter.check_budget("tpm", limit=1000, window=WINDOW)
    assert decision.allowed
    assert decision.remaining == 500


async def test_budget_retry_after_waits_for_enough_charges_to_leave(
    limiter: MemoryRateLimiter, clock: Clock
) -> None:
    start = clock.now
    for offset, amount in ((0, 100), (10, 100), (20, 1000)):
        clock.now = start + offset
        await limiter.consume("tpm", amount, window=WINDOW)

    clock.now = start + 30
    refused = await limiter.check_budget("tpm", limit=1000, window=WINDOW)
    assert not refused.allowed
    # Dropping the two small charges leaves exactly 1000 (still at the limit): wait for the big one.
    assert refused.retry_after == 50

    clock.now = start + 70
    assert not (await limiter.check_budget("tpm", limit=1000, window=WINDOW)).allowed
    clock.now = start + 80
    assert (await limiter.check_budget("tpm", limit=1000, window=WINDOW)).allowed


@pytest.mark.parametrize("seed", range(6))
async def test_budget_against_a_brute_force_model(seed: int) -> None:
    rng = random.Random(seed)
    clock = Clock(0.0)
    limiter = MemoryRateLimiter(clock=clock)
    limit = 1000
    charges: list[tuple[float, int]] = []
    for t in _timestamps(rng, 400):
        clock.now = t
        used = sum(a for s, a in charges if s > t - WINDOW)
        decision = await limiter.check_budget("tpm", limit=limit, window=WINDOW)
        assert decision.allowed is (used < limit), (t, used)
        if decision.allowed:
            assert decision.remaining == limit - used
            amount = rng.choice([0, 1, 50, 200, 400, 999, 1500])
            await limiter.consume("tpm", amount, window=WINDOW)
            if amount > 0:
                charges.append((t, amount))
        else:
            # Exactly at retry_after the budget is below the limit again, and not a moment before.
            later = t + decision.retry_after
            assert sum(a for s, a in charges if s > later - WINDOW) < limit
            assert sum(a for s, a in charges if s > later - 0.125 - WINDOW) >= limit


async def test_budget_and_requests_use_separate_state(limiter: MemoryRateLimiter) -> None:
    await limiter.consume("x", 10, window=WINDOW)
    assert (await limiter.hit("x", limit=1, window=WINDOW)).allowed
    assert (await limiter.check_budget("x", limit=11, window=WINDOW)).remaining == 1
