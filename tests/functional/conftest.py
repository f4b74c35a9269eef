"""Fixtures for HTTP-level tests of the dashboard: a started in-process app per test.

``dashboard`` is a fresh installation (empty database, migrated) on SQLite; a module that must
also run on PostgreSQL overrides ``database_url`` with ``params=DATABASES`` (see
``tests/functional/security/test_sessions.py``). ``make_dashboard`` builds more installations
with other settings (production, trusted proxies) in the same test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager

from tests.support.dashboard import PUBLIC_URL, SECRET_KEY, Dashboard, FakeClock, data_dir_of, find_dashboard
from xerotier import migrate
from xerotier.app import create_app
from xerotier.db import create_engine
from xerotier.mail.outbox import ConsoleTransport
from xerotier.settings import Settings

MakeDashboard = Callable[..., Awaitable[Dashboard]]


@pytest.fixture
def database_url() -> str | None:
    """SQLite unless a module asks for more (None: the file in the data directory)."""
    return None


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone: no ``XEROTIER_*`` variable of the shell or CI leaks in."""
    for name in list(os.environ):
        if name.startswith("XEROTIER_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def make_dashboard(
    tmp_path: Path, database_url: str | None, clean_environment: None
) -> AsyncIterator[MakeDashboard]:
    """Factory: ``await make_dashboard(env="production", ...)`` → a started :class:`Dashboard`.

    Keyword arguments are settings; ``XEROTIER_*`` variables of the environment play no part.
    Every client, the lifespan and the engines are closed at the end.
    """
    async with AsyncExitStack() as stack:
        built = 0

        async def make(*, clock: FakeClock | None = None, **overrides: Any) -> Dashboard:
            nonlocal built
            built += 1
            options: dict[str, Any] = {
                "data_dir": data_dir_of(tmp_path, built),
                "secret_key": SECRET_KEY,
                "public_url": PUBLIC_URL,
                "database_url": database_url,
                **overrides,
            }
            settings = Settings(**options)
            engine = create_engine(settings.effective_database_url)
            try:
                await migrate.upgrade(engine)
            finally:
                await engine.dispose()
            fake_clock = clock or FakeClock()
            transport = ConsoleTransport()
            app = create_app(settings, clock=fake_clock, transport=transport)
            manager = await stack.enter_async_context(LifespanManager(app, startup_timeout=30))
            dash = Dashboard(
                app=manager.app,
                web=find_dashboard(app),
                settings=settings,
                clock=fake_clock,
                mail=transport,
                database_url=settings.database_url,
                _stack=stack,
            )
            return dash

        yield make


@pytest.fixture
async def dashboard(make_dashboard: MakeDashboard) -> Dashboard:
    return await make_dashboard()
