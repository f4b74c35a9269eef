from __future__ import annotations

import os

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.audit.store import CLI_ACTOR
from xerotier.cli.context import fail, print_json, run_in_session
from xerotier.clock import utcnow
from xerotier.projects import service
from xerotier.projects.models import Endpoint
from xerotier.server_secrets import load_server_secrets
from xerotier.settings import Settings


@click.group()
def endpoints() -> None:
    """Endpoints: named inference URLs bound to an upstream model server."""


@endpoints.command()
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--slug", required=True, help="Endpoint name used in the URL: a-z, 0-9, '-'.")
@click.option(
    "--upstream-url", required=True, help="Upstream base URL including /v1, e.g. http://127.0.0.1:8001/v1"
)
@click.option("--upstream-model", default=None, help="Model name sent upstream (replaces the client's).")
@click.option(
    "--upstream-key-env",
    default=None,
    metavar="VAR",
    help="Name of an environment variable holding the upstream's API key (kept out of argv).",
)
@click.option("--rpm", type=int, default=None, help="Requests per minute for the endpoint.")
@click.option("--tpm", type=int, default=None, help="Tokens per minute for the endpoint.")
def create(
    project: str,
    slug: str,
    upstream_url: str,
    upstream_model: str | None,
    upstream_key_env: str | None,
    rpm: int | None,
    tpm: int | None,
) -> None:
    """Create an endpoint in a project."""
    upstream_key = None
    if upstream_key_env:
        upstream_key = os.environ.get(upstream_key_env)
        if not upstream_key:
            fail(f"environment variable {upstream_key_env} is not set or empty")

    async def work(settings: Settings, session: AsyncSession) -> str:
        proj = await service.get_project(session, project)
        endpoint = await service.create_endpoint(
            session,
            project=proj,
            slug=slug,
            upstream_url=upstream_url,
            upstream_model=upstream_model,
            upstream_key=upstream_key,
            rpm_limit=rpm,
            tpm_limit=tpm,
            key_ring=load_server_secrets(settings).key_ring,
            now=utcnow(),
            actor=CLI_ACTOR,
        )
        return f"created endpoint {endpoint.slug}: /{proj.external_id}/{endpoint.slug}/v1"

    click.echo(run_in_session(work))


@endpoints.command("list")
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_endpoints(project: str, as_json: bool) -> None:
    """List a project's endpoints (upstream keys are never shown)."""

    async def work(settings: Settings, session: AsyncSession) -> list[dict[str, object]]:
        proj = await service.get_project(session, project)
        rows = await session.scalars(
            select(Endpoint).where(Endpoint.project_id == proj.id).order_by(Endpoint.slug)
        )
        return [
            {
                "slug": e.slug,
                "upstream_url": e.upstream_url,
                "upstream_model": e.upstream_model,
                "has_upstream_key": e.upstream_key_encrypted is not None,
                "rpm": e.rpm_limit,
                "tpm": e.tpm_limit,
                "active": e.is_active,
            }
            for e in rows
        ]

    items = run_in_session(work)
    if as_json:
        print_json(items)
    else:
        for item in items:
            state = "active" if item["active"] else "inactive"
            click.echo(f"{item['slug']}  {item['upstream_url']}  {state}")


def _set_active(project: str, slug: str, active: bool) -> None:
    async def work(settings: Settings, session: AsyncSession) -> str:
        proj = await service.get_project(session, project)
        endpoint = await service.get_endpoint(session, proj, slug)
        await service.set_endpoint_active(
            session, endpoint=endpoint, active=active, now=utcnow(), actor=CLI_ACTOR
        )
        return f"endpoint {slug} is now {'active' if active else 'inactive'}"

    click.echo(run_in_session(work))


@endpoints.command()
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--slug", required=True, help="Endpoint slug.")
def deactivate(project: str, slug: str) -> None:
    """Stop serving an endpoint (requests get 503 endpoint_inactive)."""
    _set_active(project, slug, False)


@endpoints.command()
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--slug", required=True, help="Endpoint slug.")
def activate(project: str, slug: str) -> None:
    """Serve a deactivated endpoint again."""
    _set_active(project, slug, True)
