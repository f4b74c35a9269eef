"""Account enumeration: sign-in, registration and password reset answer the same, body and
timing, whether or not an address has an account. Only the mailbox of the address learns more."""

from __future__ import annotations

import re
import statistics
import time

import httpx

from tests.support.dashboard import PASSWORD, Dashboard

EXISTING = "alice@example.com"
UNKNOWN = "zorro@example.com"  # same length as EXISTING, so the echoed value takes the same room
NEW_PASSWORD = "a perfectly fine passphrase 9"


def comparable(response: httpx.Response, email: str) -> tuple[int, str, list[str]]:
    """Status, body without the per-browser token and the echoed address, and the header names."""
    body = re.sub(r'(name="csrf-token" content=|name="csrf_token" value=)"[^"]*"', r'\1"…"', response.text)
    body = body.replace(email, "EMAIL")
    ignored = {"x-request-id", "set-cookie", "content-length"}
    names = sorted(k for k in response.headers if k not in ignored)
    return response.status_code, body, names


async def test_sign_in_answers_the_same_for_an_unknown_email_and_a_wrong_password(
    dashboard: Dashboard,
) -> None:
    await dashboard.create_user(EXISTING)
    browser = await dashboard.browser()
    await browser.load_token()

    wrong = await browser.submit("/auth/login", {"email": EXISTING, "password": "not the right one"})
    unknown = await browser.submit("/auth/login", {"email": UNKNOWN, "password": "not the right one"})
    assert wrong.status_code == unknown.status_code == 401
    assert comparable(wrong, EXISTING) == comparable(unknown, UNKNOWN)
    assert "Incorrect email or password" in wrong.text
    assert len(wrong.content) == len(unknown.content)


async def test_sign_in_takes_as_long_for_an_unknown_email_as_for_a_wrong_password(
    dashboard: Dashboard,
) -> None:
    await dashboard.create_user(EXISTING)
    browser = await dashboard.browser()
    await browser.load_token()
    # Warm up (the dummy hash is computed on first use), then alternate: 4 + 4 failures stay
    # below the per-account (5) and per-IP (30) limits.
    await browser.submit("/auth/login", {"email": "warm-up@example.com", "password": "x" * 12})

    timings: dict[str, list[float]] = {"existing": [], "unknown": []}
    for i in range(4):
        for kind, email in (("existing", EXISTING), ("unknown", f"nobody{i}@example.com")):
            started = time.perf_counter()
            response = await browser.submit(
                "/auth/login", {"email": email, "password": f"wrong password {i}"}
            )
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 401
    ratio = statistics.median(timings["unknown"]) / statistics.median(timings["existing"])
    assert 0.5 <= ratio <= 2.0, timings


async def test_registration_answers_the_same_for_a_taken_and_a_new_address(dashboard: Dashboard) -> None:
    await dashboard.create_user(EXISTING)
    browser = await dashboard.browser()
    await browser.load_token()
    users_before = await dashboard.count("users")

    taken = await browser.submit("/auth/register", {"email": EXISTING, "password": NEW_PASSWORD})
    fresh = await browser.submit("/auth/register", {"email": UNKNOWN, "password": NEW_PASSWORD})
    assert taken.status_code == fresh.status_code == 200
    assert comparable(taken, EXISTING) == comparable(fresh, UNKNOWN)
    assert await dashboard.count("users") == users_before + 1
    assert not await browser.is_signed_in()

    to_taken = await dashboard.mails(EXISTING)
    to_fresh = await dashboard.mails(UNKNOWN)
    assert [m.subject for m in to_taken] == ["Someone tried to register with your email"]
    assert "/auth/forgot-password" in to_taken[0].text
    assert "/auth/verify?token=" not in to_taken[0].text
    assert [m.subject for m in to_fresh] == ["Verify your email address"]
    assert "/auth/verify?token=" in to_fresh[0].text

    # The taken address keeps its password: the registration changed nothing about it.
    signed_in = await dashboard.sign_in(await dashboard.browser(), EXISTING, PASSWORD)
    assert signed_in.status_code == 303


async def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(dashboard: Dashboard) -> None:
    await dashboard.create_user(EXISTING, password=None)
    browser = await dashboard.browser()
    await browser.load_token()

    known = await browser.submit("/auth/forgot-password", {"email": EXISTING})
    unknown = await browser.submit("/auth/forgot-password", {"email": UNKNOWN})
    assert known.status_code == unknown.status_code == 200
    assert comparable(known, EXISTING) == comparable(unknown, UNKNOWN)
    assert EXISTING not in known.text

    assert [m.subject for m in await dashboard.mails(EXISTING)] == ["Reset your password"]
    assert await dashboard.mails(UNKNOWN) == []


async def test_a_locked_unknown_address_looks_like_a_locked_account(dashboard: Dashboard) -> None:
    await dashboard.create_user(EXISTING)
    answers = {}
    for email in (EXISTING, UNKNOWN):
        browser = await dashboard.browser()
        await browser.load_token()
        for _ in range(5):
            assert (
                await browser.submit("/auth/login", {"email": email, "password": "wrong!" * 3})
            ).status_code == 401
        answers[email] = await browser.submit("/auth/login", {"email": email, "password": "wrong!" * 3})
    assert answers[EXISTING].status_code == answers[UNKNOWN].status_code == 429
    assert comparable(answers[EXISTING], EXISTING) == comparable(answers[UNKNOWN], UNKNOWN)
