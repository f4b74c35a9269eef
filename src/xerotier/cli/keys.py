from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.audit.store import CLI_ACTOR
from xerotier.cli.context import print_json, run_in_session
from xerotier.clock import utcnow
from xerotier.projects import keys as key_service
from xerotier.projects import service, validation
from xerotier.projects.models import KeyEnvironment
from xerotier.server_secrets import load_server_secrets
from xerotier.settings import Settings


@click.group()
def keys() -> None:
    """API keys. Rotation is create-and-swap: create a new key, deploy it, revoke the old one."""


@keys.command()
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--name", required=True, help="What the key is for, e.g. 'billing-service'.")
@click.option(
    "--environment",
    type=click.Choice([e.value for e in KeyEnvironment]),
    default=KeyEnvironment.DEVELOPMENT.value,
    show_default=True,
)
@click.option("--endpoint", default=None, help="Bind the key to this endpoint slug only.")
@click.option("--expires-in", default=None, help="Lifetime such as 12h, 30d or 2w (default: no expiry).")
@click.option(
    "--allow-ip", "allow_ip", multiple=True, metavar="CIDR", help="Allowed client network (repeatable)."
)
def create(
    project: str,
    name: str,
    environment: str,
    endpoint: str | None,
    expires_in: str | None,
    allow_ip: tuple[str, ...],
) -> None:
    """Create a key. The full key is printed once, alone on the last line of stdout."""

    async def work(settings: Settings, session: AsyncSession) -> key_service.CreatedKey:
        proj = await service.get_project(session, project)
        bound = await service.get_endpoint(session, proj, endpoint) if endpoint else None
        return await key_service.create_api_key(
            session,
            project=proj,
            name=name,
            environment=environment,
            endpoint=bound,
            expires_in=validation.duration(expires_in) if expires_in else None,
            allowed_cidrs=list(allow_ip),
            pepper=load_server_secrets(settings).api_key_pepper,
            created_by_user_id=None,
            now=utcnow(),
            actor=CLI_ACTOR,
        )

    created = run_in_session(work)
    record = created.record
    expiry = record.expires_at.isoformat() if record.expires_at else "never"
    click.echo(f"created {record.external_id} ({record.name}, {record.environment}, expires {expiry})")
    click.echo("This is the only time the full key is shown; store it in a secrets manager now:")
    click.echo(created.secret)


@keys.command("list")
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_keys(project: str, as_json: bool) -> None:
    """List a project's keys (prefixes only; full keys are never stored)."""

    async def work(settings: Settings, session: AsyncSession) -> list[dict[str, object]]:
        proj = await service.get_project(session, project)
        rows = await key_service.list_api_keys(session, proj)
        return [
            {
                "id": k.external_id,
                "name": k.name,
                "prefix": k.prefix,
                "environment": k.environment,
                "created_at": k.created_at.isoformat(),
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "last_used_ip": k.last_used_ip,
                "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in rows
        ]

    items = run_in_session(work)
    if as_json:
        print_json(items)
        return
    for item in items:
        status = "revoked" if item["revoked_at"] else "active"
        click.echo(f"{item['id']}  {item['prefix']}…  {item['environment']:<11}  {status:<7}  {item['name']}")


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key for good. Running gateways stop accepting it within a second."""

    async def work(settings: Settings, session: AsyncSession) -> str:
        record, changed = await key_service.revoke_api_key(
            session, external_id=key_id, now=utcnow(), actor=CLI_ACTOR
        )
        return f"revoked {record.external_id}" if changed else f"{record.external_id} was already revoked"

    click.echo(run_in_session(work))
