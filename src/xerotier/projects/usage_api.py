"""Usage in the JSON API: a time series (hour or day buckets) and the most recent requests."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.requests import Request

from xerotier.projects import access
from xerotier.projects.access import Db, Verified
from xerotier.projects.schemas import UsagePoint, UsageSeriesOut, UsageTotals
from xerotier.projects.usage_report import MAX_RECENT, select_filters
from xerotier.usage import service as usage

router = APIRouter()
KeyFilter = Annotated[str | None, Query(max_length=64, description="Only this key (key_…).")]
EndpointFilter = Annotated[str | None, Query(max_length=64, description="Only this endpoint (slug).")]


@router.get(
    "/{project_id}/usage/series",
    response_model=UsageSeriesOut,
    summary="Requests, errors and tokens per hour (last 48 h) or per day (last 30 days), UTC",
)
async def usage_series(
    request: Request,
    session: Db,
    user: Verified,
    project_id: str,
    bucket: Literal["hour", "day"] = "hour",
    key: KeyFilter = None,
    endpoint: EndpointFilter = None,
) -> UsageSeriesOut:
    found = await access.member(session, user, project_id)
    chosen = await select_filters(session, found.project, key=key, endpoint=endpoint)
    series = await usage.series(
        session, where=chosen.filter(found.project), bucket=bucket, now=access.now(request)
    )
    total = series.total
    return UsageSeriesOut(
        bucket=bucket,
        start=series.start,
        end=series.end,
        key=chosen.key.external_id if chosen.key else None,
        endpoint=chosen.endpoint.slug if chosen.endpoint else None,
        total=UsageTotals(
            requests=total.requests,
            errors=total.errors,
            prompt_tokens=total.prompt_tokens,
            completion_tokens=total.completion_tokens,
        ),
        points=[
            UsagePoint(
                start=p.start,
                requests=p.requests,
                errors=p.errors,
                prompt_tokens=p.prompt_tokens,
                completion_tokens=p.completion_tokens,
            )
            for p in series.points
        ],
    )


@router.get(
    "/{project_id}/usage/recent",
    response_model=list[usage.RecentRequest],
    summary="The most recent requests, newest first",
)
async def usage_recent(
    session: Db,
    user: Verified,
    project_id: str,
    key: KeyFilter = None,
    endpoint: EndpointFilter = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RECENT)] = 100,
) -> list[usage.RecentRequest]:
    found = await access.member(session, user, project_id)
    chosen = await select_filters(session, found.project, key=key, endpoint=endpoint)
    rows = await usage.recent(session, where=chosen.filter(found.project), limit=limit)
    return rows
