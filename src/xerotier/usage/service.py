"""Usage reports: totals, per-key and per-endpoint breakdowns, time series and recent requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVarTuple

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.projects.models import ApiKey, Endpoint, Project
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


# -- time series, breakdowns and recent requests (dashboard) ------------------------------------

Bucket = Literal["hour", "day"]
Ts = TypeVarTuple("Ts")
WINDOWS: dict[str, tuple[timedelta, int]] = {"hour": (timedelta(hours=1), 48), "day": (timedelta(days=1), 30)}
# The same text on every engine, so Python can parse the bucket key without dialect branches.
_SQLITE_FORMAT = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d"}
_PG_FORMAT = {"hour": "YYYY-MM-DD HH24", "day": "YYYY-MM-DD"}


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events count: always one project, optionally one key and one endpoint."""

    project_id: int
    api_key_id: int | None = None
    endpoint_id: int | None = None

    def apply(self, query: Select[*Ts]) -> Select[*Ts]:
        query = query.where(UsageEvent.project_id == self.project_id)
        if self.api_key_id is not None:
            query = query.where(UsageEvent.api_key_id == self.api_key_id)
        if self.endpoint_id is not None:
            query = query.where(UsageEvent.endpoint_id == self.endpoint_id)
        return query


@dataclass(slots=True)
class Point(Totals):
    start: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))


@dataclass(slots=True)
class Series:
    bucket: Bucket
    start: datetime
    end: datetime
    points: list[Point]

    @property
    def total(self) -> Totals:
        out = Totals()
        for p in self.points:
            out.requests += p.requests
            out.errors += p.errors
            out.prompt_tokens += p.prompt_tokens
            out.completion_tokens += p.completion_tokens
        return out


@dataclass(slots=True)
class Breakdown(Totals):
    label: str = ""  # key name or endpoint slug
    ref: str | None = None  # key_… or endpoint slug; None for events of a deleted endpoint
    prefix: str = ""


def window(bucket: Bucket, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the chart: the last 48 hours or 30 days, aligned to whole UTC buckets."""
    step, count = WINDOWS[bucket]
    now = now.astimezone(UTC)
    current = now.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        current = current.replace(hour=0)
    return current - step * (count - 1), current + step


def _bucket_key(dialect: str, bucket: Bucket) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(bucket, UsageEvent.created_at), _PG_FORMAT[bucket])
    if dialect == "sqlite":
        return func.strftime(_SQLITE_FORMAT[bucket], UsageEvent.created_at)
    raise NotImplementedError(f"usage series are not implemented for {dialect}")


def _sums() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(UsageEvent.id),
        func.coalesce(func.sum(case((UsageEvent.status >= 400, 1), else_=0)), 0),
        func.coalesce(func.sum(UsageEvent.prompt_tokens), 0),
        func.coalesce(func.sum(UsageEvent.completion_tokens), 0),
    )


def _counts(row: Sequence[Any], offset: int) -> tuple[int, int, int, int]:
    """requests, errors, prompt tokens, completion tokens — the order of ``Totals``' fields."""
    requests, errors, prompt, completion = row[offset : offset + 4]
    return int(requests), int(errors), int(prompt), int(completion)


async def series(session: AsyncSession, *, where: Filter, bucket: Bucket, now: datetime) -> Series:
    """Requests, errors and tokens per hour (last 48 h) or per day (last 30 days), zero-filled.

    Grouping happens in the database (strftime on SQLite, date_trunc on PostgreSQL), so the
    cost does not grow with traffic; times are UTC because they are stored in UTC.
    """
    start, end = window(bucket, now)
    key = _bucket_key(session.get_bind().dialect.name, bucket).label("bucket")
    query = where.apply(
        select(key, *_sums()).where(UsageEvent.created_at >= start, UsageEvent.created_at < end).group_by(key)
    )
    fmt = _SQLITE_FORMAT[bucket]
    found = {
        datetime.strptime(row[0], fmt).replace(tzinfo=UTC): _counts(row, 1)
        for row in await session.execute(query)
    }
    step, count = WINDOWS[bucket]
    points = []
    for i in range(count):
        moment = start + step * i
        points.append(Point(*found.get(moment, (0, 0, 0, 0)), start=moment))
    return Series(bucket=bucket, start=start, end=end, points=points)


async def by_key(session: AsyncSession, *, where: Filter, since: datetime) -> list[Breakdown]:
    query = where.apply(
        select(ApiKey.external_id, ApiKey.name, ApiKey.prefix, *_sums())
        .join(ApiKey, ApiKey.id == UsageEvent.api_key_id)
        .where(UsageEvent.created_at >= since)
        .group_by(ApiKey.id, ApiKey.external_id, ApiKey.name, ApiKey.prefix)
        .order_by(func.count(UsageEvent.id).desc(), ApiKey.external_id)
    )
    return [
        Breakdown(*_counts(row, 3), label=row[1], ref=row[0], prefix=row[2])
        for row in await session.execute(query)
    ]


async def by_endpoint(session: AsyncSession, *, where: Filter, since: datetime) -> list[Breakdown]:
    query = where.apply(
        select(Endpoint.slug, *_sums())
        .outerjoin(Endpoint, Endpoint.id == UsageEvent.endpoint_id)
        .where(UsageEvent.created_at >= since)
        .group_by(Endpoint.slug)
        .order_by(func.count(UsageEvent.id).desc(), Endpoint.slug)
    )
    return [
        Breakdown(*_counts(row, 1), label=row[0] or "(no endpoint)", ref=row[0])
        for row in await session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class RecentRequest:
    created_at: datetime
    key_id: str
    key_name: str
    key_prefix: str
    endpoint: str | None
    operation: str
    status: int
    error_code: str | None
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    client_ip: str | None
    request_id: str


async def recent(session: AsyncSession, *, where: Filter, limit: int = 100) -> list[RecentRequest]:
    """The newest requests first — what an owner reads to spot a leaked key (odd IPs, bursts)."""
    query = where.apply(
        select(
            UsageEvent.created_at,
            ApiKey.external_id.label("key_id"),
            ApiKey.name.label("key_name"),
            ApiKey.prefix.label("key_prefix"),
            Endpoint.slug.label("endpoint"),
            UsageEvent.operation,
            UsageEvent.status,
            UsageEvent.error_code,
            UsageEvent.latency_ms,
            UsageEvent.ttft_ms,
            UsageEvent.prompt_tokens,
            UsageEvent.completion_tokens,
            UsageEvent.client_ip,
            UsageEvent.request_id,
        )
        .join(ApiKey, ApiKey.id == UsageEvent.api_key_id)
        .outerjoin(Endpoint, Endpoint.id == UsageEvent.endpoint_id)
        .order_by(UsageEvent.created_at.desc(), UsageEvent.id.desc())
        .limit(limit)
    )
    return [RecentRequest(**row._asdict()) for row in await session.execute(query)]
