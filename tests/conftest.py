"""Shared fixtures: which databases the suite runs on, and fresh PostgreSQL databases.

SQLite always runs. PostgreSQL runs when XEROTIER_TEST_DATABASE_URL is set (CI sets it);
with XEROTIER_TEST_REQUIRE_SERVICES=1 its absence is an error, never a silent skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.processes import Upstream, start_upstream

PG_URL = os.environ.get("XEROTIER_TEST_DATABASE_URL")
REQUIRE_SERVICES = os.environ.get("XEROTIER_TEST_REQUIRE_SERVICES") == "1"
DATABASES = ["sqlite", *(["postgres"] if PG_URL else [])]


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES and not PG_URL:
        raise pytest.UsageError("XEROTIER_TEST_REQUIRE_SERVICES=1 but XEROTIER_TEST_DATABASE_URL is not set")


def _asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin(sql: str) -> None:
    import asyncpg

    assert PG_URL
    conn = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def make_postgres_database() -> Iterator[object]:
    """Factory: a fresh, empty PostgreSQL database URL (dropped at the end of the session)."""
    created: list[str] = []

    def make() -> str:
        assert PG_URL, "XEROTIER_TEST_DATABASE_URL is not set"
        name = f"xerotier_test_{secrets.token_hex(6)}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return _with_database(PG_URL, name)

    yield make
    for name in created:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    """A real mock model server process shared by the whole session."""
    up = start_upstream()
    yield up
    up.stop()
