from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts import service
from xerotier.audit.store import CLI_ACTOR
from xerotier.cli.context import run_in_session
from xerotier.clock import utcnow
from xerotier.settings import Settings


@click.group()
def users() -> None:
    """User accounts."""


@users.command()
@click.option("--email", required=True, help="Email address (the sign-in name).")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
def create(email: str, admin: bool) -> None:
    """Create a user. Users created here count as email-verified."""

    async def work(settings: Settings, session: AsyncSession) -> str:
        user = await service.create_user(
            session, email=email, admin=admin, verified=True, now=utcnow(), actor=CLI_ACTOR
        )
        return f"created user {user.email} ({user.role})"

    click.echo(run_in_session(work))
