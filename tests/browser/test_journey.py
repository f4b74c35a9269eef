"""The owner's whole journey in a real browser, against real processes:
sign up → verification email over SMTP → verify → sign in → project, endpoint, key → SDK call →
usage page shows it → revoke → the same key gets 401."""

from __future__ import annotations

import re

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.support.processes import Server, Upstream, Xerotier
from tests.support.smtp import SmtpServer

EMAIL = "owner@example.test"
PASSWORD = "a long and unusual passphrase 42"


def sign_up_and_verify(page: Page, server: Server, smtp: SmtpServer) -> None:
    page.goto(f"{server.url}/auth/register")
    screenshot(page, "01-register")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Check your email")

    link = smtp.inbox.link(smtp.inbox.wait_for(EMAIL, "Verify"))
    assert link.startswith(f"{server.url}/auth/verify?token=")
    page.goto(link)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Email verified")


def sign_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/auth/login")
    screenshot(page, "02-login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/projects")
    cookie = next(c for c in page.context.cookies() if c["name"] == "__Host-xerotier_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_owner_journey(
    page: Page, site: tuple[Xerotier, Server], smtp: SmtpServer, upstream: Upstream
) -> None:
    _xt, server = site
    sign_up_and_verify(page, server, smtp)
    sign_in(page, server)

    page.fill("#name", "Browser Project")
    page.fill("#slug", "browser-proj")
    page.click("form[action='/projects'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/projects/proj_[A-Za-z0-9]+$"))
    project_id = page.url.rsplit("/", 1)[1]
    project_url = page.url

    # An endpoint in front of the mock model server.
    page.click("summary:has-text('New endpoint')")
    page.fill("#ep-slug", "chat")
    page.fill("#ep-url", upstream.base_url)
    page.fill("#ep-model", "mock-model")
    page.click("#endpoint-form button[type=submit]")
    expect(page.locator("#endpoint-list")).to_contain_text("chat")

    # A key: the full key is on the page exactly once, with a copy button and a warning.
    page.click("summary:has-text('New API key')")
    page.fill("#key-name", "browser-app")
    page.select_option("#key-env", "production")
    page.click("#key-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("API key created")
    key = page.locator("#new-key").inner_text().strip()
    assert re.fullmatch(r"xero_browser-proj_[A-Za-z0-9]{49}", key)
    expect(page.locator("[data-copy='new-key']")).to_be_visible()
    expect(page.locator("main")).to_contain_text("will not be shown again")
    screenshot(page, "04-key-created")
    page.goto(project_url)
    assert key not in page.content()  # shown once, never again
    screenshot(page, "05-project-with-key")

    # The key works with the official SDK…
    client = openai.OpenAI(base_url=f"{server.url}/{project_id}/chat/v1", api_key=key, max_retries=0)
    try:
        reply = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "Hello from the mock upstream"

        # …and the call shows up on the usage page (usage is written within about a second).
        page.goto(f"{server.url}/projects/{project_id}/usage")
        for _ in range(20):
            if page.locator("#recent-requests tbody tr").count() >= 1:
                break
            page.wait_for_timeout(300)
            page.reload()
        expect(page.locator("#recent-requests")).to_contain_text("browser-app")
        expect(page.locator("#recent-requests")).to_contain_text("200")
        expect(page.locator("#chart-requests svg")).to_be_visible()
        screenshot(page, "06-usage")

        # Revoke, confirming the dialog; the same key is refused at once.
        page.goto(project_url)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#key-list form[action$='/revoke'] button[type=submit]")
        expect(page.locator("#key-list")).to_contain_text("revoked")
        screenshot(page, "07-key-revoked")
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(model="any", messages=[{"role": "user", "content": "hi"}])
        assert "revoked" in info.value.message
    finally:
        client.close()

    page.goto(f"{server.url}/account")
    expect(page.locator("#sessions")).to_contain_text("this session")
    screenshot(page, "08-account")
