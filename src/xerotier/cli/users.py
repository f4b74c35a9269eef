from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts import auth, service
from xerotier.audit.store import CLI_ACTOR
from xerotier.cli.context import fail, run_in_session
from xerotier.clock import utcnow
from xerotier.security import passwords
from xerotier.settings import Settings


@click.group()
def users() -> None:
    """User accounts."""


def _read_password() -> str:
    """One line from standard input (never from argv, where other users and shell history see it)."""
    if sys.stdin.isatty():
        value = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail("no password on standard input")
    return str(value)


@users.command()
@click.option("--email", required=True, help="Email address (the sign-in name).")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input (one line).")
def create(email: str, admin: bool, password_stdin: bool) -> None:
    """Create a user. Users created here count as email-verified."""
    password = _read_password() if password_stdin else None

    async def work(settings: Settings, session: AsyncSession) -> str:
        user = await service.create_user(
            session, email=email, admin=admin, verified=True, now=utcnow(), actor=CLI_ACTOR
        )
        if password is not None:
            auth.check_policy(password, user.email)
            user.password_hash = await passwords.hash_password(password)
            user.password_changed_at = utcnow()
        return f"created user {user.email} ({user.role})"

    click.echo(run_in_session(work))


@users.command("set-password")
@click.option("--email", required=True, help="The user's email address.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def set_password(email: str, password_stdin: bool) -> None:
    """Set a user's password (an administrator's reset): every session of the user ends."""
    password = _read_password()

    async def work(settings: Settings, session: AsyncSession) -> str:
        user = await service.get_user(session, email)
        ended = await auth.set_password_by_admin(
            session, user=user, password=password, now=utcnow(), actor=CLI_ACTOR
        )
        return f"password set for {user.email}; {ended} session(s) ended"

    click.echo(run_in_session(work))
