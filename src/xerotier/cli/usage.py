from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.cli.context import fail, print_json, run_in_session
from xerotier.clock import utcnow
from xerotier.errors import ValidationError
from xerotier.projects import keys as key_service
from xerotier.projects import service, validation
from xerotier.settings import Settings
from xerotier.usage import service as usage_service


def parse_since(value: str) -> datetime:
    """``24h``/``7d`` (relative to now) or an ISO 8601 time with a zone (``2026-11-01T00:00:00Z``)."""
    try:
        return utcnow() - validation.duration(value)
    except ValidationError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since must be a duration like 24h or an ISO 8601 time (got {value!r})")
    if moment.tzinfo is None:
        fail("--since needs a time zone, e.g. 2026-11-01T00:00:00Z")
    return moment


@click.command()
@click.option("--project", required=True, help="Project id (proj_…) or slug.")
@click.option("--key", "key_id", default=None, help="Only this key (key_…).")
@click.option("--since", default=None, help="24h, 7d, or an ISO 8601 time.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def usage(project: str, key_id: str | None, since: str | None, as_json: bool) -> None:
    """Requests, errors and tokens per key. Recent requests may take up to a second to appear."""
    since_at = parse_since(since) if since else None

    async def work(settings: Settings, session: AsyncSession) -> usage_service.UsageReport:
        proj = await service.get_project(session, project)
        key = await key_service.get_api_key(session, key_id) if key_id else None
        if key is not None and key.project_id != proj.id:
            raise ValidationError(f"key {key_id} does not belong to project {project}")
        return await usage_service.summarize(session, project=proj, key=key, since=since_at)

    report = run_in_session(work)
    if as_json:
        print_json(report.as_dict())
        return
    click.echo(f"{'key':<22} {'requests':>9} {'errors':>7} {'prompt':>10} {'completion':>11}")
    for k in report.keys:
        click.echo(
            f"{k.key_id:<22} {k.requests:>9} {k.errors:>7} {k.prompt_tokens:>10} {k.completion_tokens:>11}"
        )
    t = report.total
    click.echo(f"{'total':<22} {t.requests:>9} {t.errors:>7} {t.prompt_tokens:>10} {t.completion_tokens:>11}")
