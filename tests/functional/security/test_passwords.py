"""Password rules at the forms: 12 to 1024 characters, never truncated, common ones refused,
stored as Argon2id."""

from __future__ import annotations

import pytest

from tests.support.dashboard import Browser, Dashboard


async def register(dash: Dashboard, email: str, password: str, ip: str = "203.0.113.7") -> tuple[int, str]:
    browser = await dash.browser(ip=ip)
    await browser.load_token()
    response = await browser.submit("/auth/register", {"email": email, "password": password})
    return response.status_code, response.text


async def sign_in_status(dash: Dashboard, email: str, password: str) -> int:
    browser: Browser = await dash.browser(ip="192.0.2.77")
    return (await dash.sign_in(browser, email, password)).status_code


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("elevenchars", "at least 12 characters"),
        ("k7#Qv" * 205, "at most 1024 characters"),  # 1025
        ("password1234", "too common"),
        ("qwertyuiop12", "too common"),
        ("abcabcabcabcabc", "repeated pattern"),
    ],
    ids=["11-chars", "1025-chars", "password1234", "qwertyuiop12", "repetitive"],
)
async def test_weak_passwords_are_refused_at_registration(
    dashboard: Dashboard, password: str, message: str
) -> None:
    status, page = await register(dashboard, "alice@example.com", password)
    assert status == 400
    assert message in page
    assert await dashboard.count("users") == 0
    assert await dashboard.mails() == []


@pytest.mark.parametrize("length", [12, 64, 1000, 1024])
async def test_long_passwords_are_accepted_whole(dashboard: Dashboard, length: int) -> None:
    password = ("Tr0ub4dor&3 horse " * 60)[:length]
    status, _ = await register(dashboard, "alice@example.com", password)
    assert status == 200
    stored = (await dashboard.user("alice@example.com")).password_hash
    assert stored is not None and stored.startswith("$argon2id$")
    assert password not in stored
    assert await sign_in_status(dashboard, "alice@example.com", password) == 303


async def test_passwords_are_not_truncated(dashboard: Dashboard) -> None:
    password = "".join(f"{i:02d}-word " for i in range(13))[:100]
    assert len(password) == 100
    status, _ = await register(dashboard, "alice@example.com", password)
    assert status == 200
    assert await sign_in_status(dashboard, "alice@example.com", password[:72]) == 401
    assert await sign_in_status(dashboard, "alice@example.com", password[:99]) == 401
    assert await sign_in_status(dashboard, "alice@example.com", password + "x") == 401
    assert await sign_in_status(dashboard, "alice@example.com", password) == 303


async def test_the_same_rules_apply_when_changing_and_resetting(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user("alice@example.com")
    browser, _ = await dashboard.session_for(alice)
    response = await browser.submit(
        "/account/password",
        {"current_password": "correct horse battery staple 42", "new_password": "password1234"},
    )
    assert response.status_code == 400
    assert "too common" in response.text

    await browser.load_token()
    await browser.submit("/auth/forgot-password", {"email": "alice@example.com"})
    mail = await dashboard.last_mail("alice@example.com", "Reset your password")
    token = mail.text.split("token=", 1)[1].split()[0]
    response = await browser.submit("/auth/reset-password", {"token": token, "password": "elevenchars"})
    assert response.status_code == 400
    assert "at least 12 characters" in response.text
    assert (await dashboard.user("alice@example.com")).password_hash == alice.password_hash
