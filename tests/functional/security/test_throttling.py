"""Throttling of sign-in, registration and reset: per account and per IP, not reset by fresh
cookies, and temporary."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.support.dashboard import PASSWORD, Browser, Dashboard

ALICE = "alice@example.com"
NEW_PASSWORD = "a perfectly fine passphrase 9"


async def fresh_browser(dash: Dashboard, ip: str = "203.0.113.7", **options: object) -> Browser:
    browser = await dash.browser(ip=ip, **options)  # type: ignore[arg-type]
    await browser.load_token()
    return browser


async def fail_sign_in(browser: Browser, email: str, times: int) -> None:
    for i in range(times):
        response = await browser.submit("/auth/login", {"email": email, "password": f"wrong password {i}"})
        assert response.status_code == 401, response.text


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert "Try again in" in response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers.get("location") is None


async def test_five_failures_lock_the_account_even_for_the_right_password(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE)
    attacker = await fresh_browser(dashboard, "198.51.100.66")
    await fail_sign_in(attacker, ALICE, 5)

    locked = await attacker.submit("/auth/login", {"email": ALICE, "password": PASSWORD})
    assert_throttled(locked)
    assert not await attacker.is_signed_in()

    # A new sign-in page, new cookies, another address: the account is still locked.
    for browser in (
        await fresh_browser(dashboard, "198.51.100.66"),
        await fresh_browser(dashboard, "192.0.2.10"),
    ):
        assert_throttled(await browser.submit("/auth/login", {"email": ALICE, "password": PASSWORD}))
        assert_throttled(
            await browser.submit("/auth/login", {"email": " Alice@Example.COM ", "password": PASSWORD})
        )
    assert not await attacker.is_signed_in()
    assert await dashboard.count("user_sessions") == 0


async def test_the_lockout_lifts_after_the_window(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE)
    # DESIGN GAP: create_app builds the sign-in throttle on MemoryRateLimiter() with its default
    # time.monotonic clock, not the app's injected clock, so a test cannot move its time. While
    # that is so, point the limiter at monotonic seconds that follow the fake clock; once the
    # throttle runs on the app's clock this does nothing and the test still holds.
    limiter = getattr(dashboard.runtime.accounts.throttle, "_limiter", None)
    if getattr(limiter, "_clock", None) is time.monotonic:
        limiter._clock = dashboard.clock.monotonic  # type: ignore[union-attr]
    browser = await fresh_browser(dashboard)
    await fail_sign_in(browser, ALICE, 5)
    assert_throttled(await browser.submit("/auth/login", {"email": ALICE, "password": PASSWORD}))

    dashboard.clock.advance(minutes=14)
    assert_throttled(await browser.submit("/auth/login", {"email": ALICE, "password": PASSWORD}))
    dashboard.clock.advance(minutes=1, seconds=1)
    response = await browser.submit("/auth/login", {"email": ALICE, "password": PASSWORD})
    assert response.status_code == 303, response.text


async def test_one_address_trying_many_accounts_is_locked_out(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE)
    attacker = await fresh_browser(dashboard, "198.51.100.66")
    for i in range(30):  # four tries each on many accounts: under the per-account limit
        email = f"target{i // 4}@example.com"
        # X-Forwarded-For is not believed from an untrusted client: it cannot dodge the IP counter.
        response = await attacker.submit(
            "/auth/login",
            {"email": email, "password": f"guess {i}"},
            headers={"x-forwarded-for": f"10.0.{i}.1", "x-real-ip": f"10.1.{i}.1"},
        )
        assert response.status_code == 401, (i, response.text)

    assert_throttled(await attacker.submit("/auth/login", {"email": ALICE, "password": PASSWORD}))
    other_cookies = await fresh_browser(dashboard, "198.51.100.66")
    assert_throttled(await other_cookies.submit("/auth/login", {"email": ALICE, "password": PASSWORD}))

    elsewhere = await fresh_browser(dashboard, "192.0.2.10")
    response = await elsewhere.submit("/auth/login", {"email": ALICE, "password": PASSWORD})
    assert response.status_code == 303


async def test_changing_the_password_is_throttled_like_sign_in(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user(ALICE)
    browser, _ = await dashboard.session_for(alice)
    for i in range(5):
        response = await browser.submit(
            "/account/password", {"current_password": f"wrong guess {i}", "new_password": NEW_PASSWORD}
        )
        assert response.status_code == 400
    assert_throttled(
        await browser.submit(
            "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
    )


async def test_registration_is_throttled_per_address_and_per_ip(dashboard: Dashboard) -> None:
    browser = await fresh_browser(dashboard)
    for _ in range(3):
        response = await browser.submit(
            "/auth/register", {"email": "same@example.com", "password": NEW_PASSWORD}
        )
        assert response.status_code == 200
    assert_throttled(
        await browser.submit("/auth/register", {"email": "same@example.com", "password": NEW_PASSWORD})
    )
    other_ip = await fresh_browser(dashboard, "192.0.2.10")
    assert_throttled(
        await other_ip.submit("/auth/register", {"email": "same@example.com", "password": NEW_PASSWORD})
    )

    for i in range(7):  # 3 + 7 = 10 from this address within the hour
        response = await browser.submit(
            "/auth/register", {"email": f"new{i}@example.com", "password": NEW_PASSWORD}
        )
        assert response.status_code == 200, (i, response.text)
    users = await dashboard.count("users")
    assert_throttled(
        await browser.submit("/auth/register", {"email": "one-more@example.com", "password": NEW_PASSWORD})
    )
    assert await dashboard.count("users") == users
    assert await dashboard.mails("one-more@example.com") == []


async def test_password_reset_requests_are_throttled_per_address_and_per_ip(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE, password=None)
    browser = await fresh_browser(dashboard)
    for _ in range(3):
        assert (await browser.submit("/auth/forgot-password", {"email": ALICE})).status_code == 200
    assert_throttled(await browser.submit("/auth/forgot-password", {"email": ALICE}))
    assert_throttled(
        await (await fresh_browser(dashboard, "192.0.2.10")).submit("/auth/forgot-password", {"email": ALICE})
    )
    assert len(await dashboard.mails(ALICE, "Reset your password")) == 3

    for i in range(7):
        assert (
            await browser.submit("/auth/forgot-password", {"email": f"n{i}@example.com"})
        ).status_code == 200
    assert_throttled(await browser.submit("/auth/forgot-password", {"email": "bob@example.com"}))


async def test_parallel_guesses_cannot_outrun_the_account_lockout(dashboard: Dashboard) -> None:
    """Ten guesses at once: the first five are counted before the sixth is checked."""
    await dashboard.create_user("target@example.com")
    browsers = [await dashboard.browser(ip=f"198.51.100.{n}") for n in range(10)]
    for browser in browsers:
        await browser.load_token()
    results = await asyncio.gather(
        *(
            browser.submit("/auth/login", {"email": "target@example.com", "password": "wrong guess number x"})
            for browser in browsers
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [401] * 5 + [429] * 5, statuses
