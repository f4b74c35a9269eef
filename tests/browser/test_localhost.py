"""Development over plain http://localhost: Chromium treats it as a secure context, so the Secure,
__Host- session cookie still works there."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support.processes import Server, Xerotier

EMAIL = "local-dev@example.test"
PASSWORD = "another long local passphrase 9"


def test_sign_in_over_http_localhost(page: Page, site: tuple[Xerotier, Server]) -> None:
    xt, server = site
    xt.cli("users", "create", "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    base = f"http://localhost:{server.port}"
    page.goto(f"{base}/auth/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/projects")
    cookie = next(c for c in page.context.cookies() if c["name"] == "__Host-xerotier_session")
    assert cookie["domain"] == "localhost" and cookie["secure"] and cookie["httpOnly"]
    page.goto(f"{base}/account")
    expect(page.locator("#sessions")).to_contain_text("this session")
