"""Real processes for browser tests: SMTP server, mock upstream, `xerotier serve`, headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.processes import ROOT, Server, Xerotier, free_port
from tests.support.smtp import SmtpServer

CHROMIUM = os.environ.get("XEROTIER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("XEROTIER_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
# Chromium on a machine without network: no background traffic, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[tuple[Xerotier, Server]]:
    port = free_port()
    xt = Xerotier(
        data_dir=tmp_path_factory.mktemp("browser"),
        extra_env={**smtp.env(), "XEROTIER_PUBLIC_URL": f"http://127.0.0.1:{port}"},
    )
    server = xt.serve(port=port)
    yield xt, server
    assert server.stop() == 0, server.log()


# Module scope, not session: Playwright's sync API runs an event loop in the main thread while it is
# open, and async tests elsewhere in the session cannot start their own until it is closed.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
