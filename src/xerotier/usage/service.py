"""Usage reports: totals and per-key breakdowns for a project."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.projects.models import ApiKey, Project
from xerotier.usage.models import UsageEvent


@dataclass(slots=True)
class Totals:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(slots=True)
class KeyUsage(Totals):
    key_id: str = ""
    name: str = ""
    prefix: str = ""


@dataclass(slots=True)
class UsageReport:
    project_id: str
    since: datetime | None
    total: Totals = field(default_factory=Totals)
    keys: list[KeyUsage] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "project_id": self.project_id,
            "since": self.since.isoformat() if self.since else None,
            "total": asdict(self.total),
            "keys": [asdict(k) for k in self.keys],
        }


async def summarize(
    session: AsyncSession, *, project: Project, key: ApiKey | None = None, since: datetime | None = None
) -> UsageReport:
    errors = func.sum(case((UsageEvent.status >= 400, 1), else_=0))
    query = (
        select(
            ApiKey.external_id,
            ApiKey.name,
            ApiKey.prefix,
            func.count(UsageEvent.id),
            errors,
            func.coalesce(func.sum(UsageEvent.prompt_tokens), 0),
            func.coalesce(func.sum(UsageEvent.completion_tokens), 0),
        )
        .join(ApiKey, ApiKey.id == UsageEvent.api_key_id)
        .where(UsageEvent.project_id == project.id)
        .group_by(ApiKey.id, ApiKey.external_id, ApiKey.name, ApiKey.prefix)
        .order_by(ApiKey.external_id)
    )
    if key is not None:
        query = query.where(UsageEvent.api_key_id == key.id)
    if since is not None:
        query = query.where(UsageEvent.created_at >= since)
    report = UsageReport(project_id=project.external_id, since=since)
    for ext_id, name, prefix, requests, errs, prompt, completion in await session.execute(query):
        entry = KeyUsage(
            requests=int(requests),
            errors=int(errs or 0),
            prompt_tokens=int(prompt),
            completion_tokens=int(completion),
            key_id=ext_id,
            name=name,
            prefix=prefix,
        )
        report.keys.append(entry)
        report.total.requests += entry.requests
        report.total.errors += entry.errors
        report.total.prompt_tokens += entry.prompt_tokens
        report.total.completion_tokens += entry.completion_tokens
    return report
