"""Shared plumbing for CLI commands: settings, a database session, and error reporting."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import click
import orjson
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from xerotier import migrate
from xerotier.db import create_engine, session_factory
from xerotier.errors import ConfigurationError, XerotierError
from xerotier.settings import Settings, ensure_data_dir

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


async def ensure_schema(engine: AsyncEngine, settings: Settings) -> None:
    """The embedded SQLite database migrates itself; an external one is the operator's call."""
    if settings.is_sqlite:
        ensure_data_dir(settings.data_dir)
        await migrate.upgrade(engine)
    elif not await migrate.is_up_to_date(engine):
        raise ConfigurationError("the database schema is not up to date; run `xerotier db upgrade`")


def run_in_session(work: Callable[[Settings, AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction (committed on success) and turn failures into one line."""
    settings = Settings()

    async def _main() -> T:
        engine = create_engine(settings.effective_database_url)
        try:
            await ensure_schema(engine, settings)
            async with session_factory(engine)() as session, session.begin():
                return await work(settings, session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_main())
    except XerotierError as exc:
        fail(exc.message)
    except (OperationalError, DBAPIError, OSError) as exc:
        fail(f"cannot use the database: {str(exc).splitlines()[0]}")


def print_json(value: object) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
