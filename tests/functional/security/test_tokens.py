"""Email-link tokens over HTTP: verification, password reset and the first-run set-up link.

Each works once; reset links expire after an hour, die at the user's next sign-in or password
change, and a refused weak password does not use one up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.conftest import DATABASES
from tests.support.dashboard import PASSWORD, Browser, Dashboard, database_url_for, link_in, token_in
from xerotier.accounts import auth

ALICE = "alice@example.com"
NEW_PASSWORD = "a brand new passphrase 77"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, make_postgres_database: Callable[[], str]) -> str | None:
    return database_url_for(request.param, make_postgres_database)


async def reset_link(dash: Dashboard, email: str = ALICE) -> str:
    browser = await dash.browser(ip="192.0.2.40")
    await browser.load_token()
    assert (await browser.submit("/auth/forgot-password", {"email": email})).status_code == 200
    link = link_in(await dash.last_mail(email, "Reset your password"))
    assert link.startswith("/auth/reset-password?token=")
    return link


async def use_reset(browser: Browser, link: str, password: str = NEW_PASSWORD) -> int:
    token = link.split("token=", 1)[1]
    await browser.load_token()
    response = await browser.submit("/auth/reset-password", {"token": token, "password": password})
    return response.status_code


async def assert_link_refused(browser: Browser, link: str) -> None:
    page = await browser.get(link)
    assert page.status_code == 400
    assert "Link not valid" in page.text
    assert await use_reset(browser, link) == 400


async def test_the_verification_link_works_once(dashboard: Dashboard) -> None:
    browser = await dashboard.browser()
    await browser.load_token()
    response = await browser.submit("/auth/register", {"email": ALICE, "password": NEW_PASSWORD})
    assert response.status_code == 200
    link = link_in(await dashboard.last_mail(ALICE, "Verify your email"))
    token = token_in(await dashboard.last_mail(ALICE, "Verify your email"))

    for _ in range(2):  # opening the link (a mail scanner, say) does not use it up
        page = await browser.get(link)
        assert page.status_code == 200
        assert (await dashboard.user(ALICE)).email_verified_at is None

    first = await browser.submit("/auth/verify", {"token": token})
    assert first.status_code == 200
    assert "Email verified" in first.text
    assert (await dashboard.user(ALICE)).email_verified_at == dashboard.clock.now

    second = await browser.submit("/auth/verify", {"token": token})
    assert second.status_code == 400
    assert "invalid, expired or already used" in second.text


async def test_a_reset_link_works_once_and_ends_every_session(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user(ALICE)
    laptop, _ = await dashboard.session_for(alice, ip="198.51.100.20")
    phone, _ = await dashboard.session_for(alice, ip="198.51.100.21")
    link = await reset_link(dashboard)

    browser = await dashboard.browser()
    assert (await browser.get(link)).status_code == 200
    assert await use_reset(browser, link) == 200
    assert not await laptop.is_signed_in()
    assert not await phone.is_signed_in()
    assert await dashboard.last_mail(ALICE, "password was changed")

    await assert_link_refused(await dashboard.browser(), link)
    assert (await dashboard.sign_in(await dashboard.browser(), ALICE, PASSWORD)).status_code == 401
    assert (await dashboard.sign_in(await dashboard.browser(), ALICE, NEW_PASSWORD)).status_code == 303


async def test_a_reset_link_expires_after_an_hour(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE, password=None)
    link = await reset_link(dashboard)
    browser = await dashboard.browser()
    dashboard.clock.advance(minutes=59)
    assert (await browser.get(link)).status_code == 200
    dashboard.clock.advance(minutes=2)
    await assert_link_refused(browser, link)
    assert (await dashboard.user(ALICE)).password_hash is None


async def test_signing_in_voids_outstanding_reset_links(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE)
    link = await reset_link(dashboard)
    assert (await dashboard.sign_in(await dashboard.browser(), ALICE)).status_code == 303
    await assert_link_refused(await dashboard.browser(), link)


async def test_changing_the_password_voids_outstanding_reset_links(dashboard: Dashboard) -> None:
    alice = await dashboard.create_user(ALICE)
    browser, _ = await dashboard.session_for(alice)
    link = await reset_link(dashboard)
    response = await browser.submit(
        "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    await assert_link_refused(await dashboard.browser(), link)


async def test_a_weak_password_does_not_use_up_the_reset_link(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE)
    link = await reset_link(dashboard)
    browser = await dashboard.browser()
    token = link.split("token=", 1)[1]
    await browser.load_token()
    for weak in ("too short", "password1234"):
        response = await browser.submit("/auth/reset-password", {"token": token, "password": weak})
        assert response.status_code == 400
        assert f'name="token" value="{token}"' in response.text  # the form comes back, ready to retry
    assert await use_reset(browser, link) == 200


async def test_a_reset_link_is_not_a_verification_link(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE, password=None, verified=False)
    link = await reset_link(dashboard)
    browser = await dashboard.browser()
    await browser.load_token()
    response = await browser.submit("/auth/verify", {"token": link.split("token=", 1)[1]})
    assert response.status_code == 400
    assert (await dashboard.user(ALICE)).email_verified_at is None
    assert await use_reset(browser, link) == 200


async def test_two_simultaneous_uses_of_a_reset_link_let_exactly_one_through(dashboard: Dashboard) -> None:
    await dashboard.create_user(ALICE)
    link = await reset_link(dashboard)
    token = link.split("token=", 1)[1]
    first, second = await dashboard.browser(), await dashboard.browser(ip="192.0.2.41")
    await first.load_token()
    await second.load_token()
    results = await asyncio.gather(
        first.submit("/auth/reset-password", {"token": token, "password": NEW_PASSWORD}),
        second.submit("/auth/reset-password", {"token": token, "password": "another fine passphrase 5"}),
    )
    assert sorted(r.status_code for r in results) == [200, 400], [r.text[:300] for r in results]
    winner = "another fine passphrase 5" if results[1].status_code == 200 else NEW_PASSWORD
    assert (await dashboard.sign_in(await dashboard.browser(), ALICE, winner)).status_code == 303


async def first_admin_token(dash: Dashboard) -> str:
    async with dash.db() as db:
        return await auth.issue_first_admin_token(db, now=dash.clock())


async def test_the_first_run_link_works_once(dashboard: Dashboard) -> None:
    token = await first_admin_token(dashboard)
    browser = await dashboard.browser()
    page = await browser.get(f"/auth/setup?token={token}")
    assert page.status_code == 200
    response = await browser.submit(
        "/auth/setup", {"token": token, "email": "admin@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/projects"
    assert await browser.is_signed_in()
    admin = await dashboard.user("admin@example.com")
    assert admin.is_admin and admin.is_verified

    again = await dashboard.browser()
    await again.load_token()
    response = await again.submit(
        "/auth/setup", {"token": token, "email": "second@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert not await again.is_signed_in()
    assert await dashboard.count("users") == 1


async def test_the_first_run_link_is_refused_once_an_administrator_exists(dashboard: Dashboard) -> None:
    token = await first_admin_token(dashboard)  # issued while the database was empty
    await dashboard.create_user("early@example.com", password=None, admin=True)
    browser = await dashboard.browser()
    await browser.load_token()
    response = await browser.submit(
        "/auth/setup", {"token": token, "email": "admin@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "already exists" in response.text
    assert not await browser.is_signed_in()
    assert await dashboard.count("users") == 1


async def test_first_run_links_are_single_use_under_concurrency(dashboard: Dashboard) -> None:
    token = await first_admin_token(dashboard)
    browsers = [await dashboard.browser(ip=f"192.0.2.{50 + i}") for i in range(2)]
    for browser in browsers:
        await browser.load_token()
    results = await asyncio.gather(
        *(
            b.submit(
                "/auth/setup", {"token": token, "email": f"admin{i}@example.com", "password": NEW_PASSWORD}
            )
            for i, b in enumerate(browsers)
        )
    )
    assert sorted(r.status_code for r in results) == [303, 400]
    assert await dashboard.count("users") == 1


async def test_open_registration_cannot_block_the_first_run_link(dashboard: Dashboard) -> None:
    token = await first_admin_token(dashboard)
    await dashboard.create_user("squatter@example.com", password=None)  # registered first, not an admin
    browser = await dashboard.browser()
    await browser.load_token()
    response = await browser.submit(
        "/auth/setup", {"token": token, "email": "admin@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 303
    admin = await dashboard.user("admin@example.com")
    assert admin.is_admin and admin.is_verified
