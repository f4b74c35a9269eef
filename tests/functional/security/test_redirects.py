"""Open redirects: after sign-in the browser only ever goes to a local path."""

from __future__ import annotations

import pytest

from tests.support.dashboard import Dashboard

HOSTILE = [
    "//evil.example",
    "//evil.example/account",
    "https://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "https:/evil.example",
    " //evil.example",
    "/\t/evil.example",
    "evil.example",
]


def assert_local(location: str) -> None:
    assert location.startswith("/"), location
    assert not location.startswith("//"), location
    assert "\\" not in location and "evil.example" not in location, location


async def test_sign_in_ignores_hostile_next_values(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    for target in HOSTILE:
        browser = await dashboard.browser()
        page = await browser.get("/auth/login", params={"next": target})
        assert page.status_code == 200
        assert "evil.example" not in page.text  # the hidden field carries only a safe value

        # An attacker can post any "next" (not only what the page put in the form).
        response = await browser.submit(
            "/auth/login",
            {"email": "alice@example.com", "password": "correct horse battery staple 42", "next": target},
        )
        assert response.status_code == 303, (target, response.text)
        assert response.headers["location"] == "/projects", target

        # Already signed in, the sign-in page forwards at once: same rule.
        again = await browser.get("/auth/login", params={"next": target})
        assert again.status_code == 303
        assert_local(again.headers["location"])


@pytest.mark.parametrize("target", ["/account", "/projects?tab=keys"])
async def test_a_local_next_is_honoured(dashboard: Dashboard, target: str) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.browser()
    page = await browser.get("/auth/login", params={"next": target})
    assert f'name="next" value="{target}"' in page.text
    response = await browser.submit(
        "/auth/login",
        {"email": "alice@example.com", "password": "correct horse battery staple 42", "next": target},
    )
    assert response.status_code == 303
    assert response.headers["location"] == target


async def test_a_signed_out_page_sends_you_back_after_sign_in(dashboard: Dashboard) -> None:
    await dashboard.create_user("alice@example.com")
    browser = await dashboard.browser()
    bounce = await browser.get("/account")
    assert bounce.status_code == 303
    assert bounce.headers["location"] == "/auth/login?next=/account"
