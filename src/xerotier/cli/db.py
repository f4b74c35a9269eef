from __future__ import annotations

import asyncio

import click

from xerotier import migrate
from xerotier.cli.context import fail
from xerotier.db import create_engine
from xerotier.settings import Settings, ensure_data_dir


@click.group()
def db() -> None:
    """Database schema management."""


@db.command()
def upgrade() -> None:
    """Apply pending migrations to the configured database."""
    settings = Settings()

    async def _main() -> str | None:
        if settings.is_sqlite:
            ensure_data_dir(settings.data_dir)
        engine = create_engine(settings.effective_database_url)
        try:
            await migrate.upgrade(engine)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(_main())
    except Exception as exc:
        fail(f"migration failed: {str(exc).splitlines()[0]}")
    click.echo(f"database at revision {revision}")
