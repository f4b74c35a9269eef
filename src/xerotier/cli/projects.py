from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts.service import get_user
from xerotier.audit.store import CLI_ACTOR
from xerotier.cli.context import print_json, run_in_session
from xerotier.clock import utcnow
from xerotier.projects import service
from xerotier.projects.models import Project
from xerotier.settings import Settings


@click.group()
def projects() -> None:
    """Projects (tenants): own endpoints and API keys."""


@projects.command()
@click.option("--name", required=True, help="Display name.")
@click.option("--slug", required=True, help="Short name used in API keys: a-z, 0-9, '-'.")
@click.option("--owner", required=True, help="Email of the owning user.")
def create(name: str, slug: str, owner: str) -> None:
    """Create a project; prints its id (proj_…)."""

    async def work(settings: Settings, session: AsyncSession) -> str:
        user = await get_user(session, owner)
        project = await service.create_project(
            session, name=name, slug=slug, owner=user, now=utcnow(), actor=CLI_ACTOR
        )
        return project.external_id

    click.echo(run_in_session(work))


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_projects(as_json: bool) -> None:
    """List projects."""

    async def work(settings: Settings, session: AsyncSession) -> list[dict[str, str]]:
        rows = await session.scalars(select(Project).order_by(Project.created_at, Project.id))
        return [
            {"id": p.external_id, "slug": p.slug, "name": p.name, "created_at": p.created_at.isoformat()}
            for p in rows
        ]

    items = run_in_session(work)
    if as_json:
        print_json(items)
    else:
        for item in items:
            click.echo(f"{item['id']}  {item['slug']}  {item['name']}")
