"""The usage page: charts over time, totals per key and per endpoint, the most recent requests."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from xerotier.projects import access, keys, service
from xerotier.projects.access import Db, Verified
from xerotier.projects.usage_report import charts, select_filters
from xerotier.usage import service as usage
from xerotier.web.deps import runtime

router = APIRouter(include_in_schema=False)
RECENT_ON_PAGE = 100


@router.get("/projects/{project_id}/usage")
async def usage_page(
    request: Request,
    session: Db,
    user: Verified,
    project_id: str,
    bucket: Literal["hour", "day"] = "hour",
    key: Annotated[str, Query(max_length=64)] = "",
    endpoint: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    found = await access.member(session, user, project_id)
    project = found.project
    chosen = await select_filters(session, project, key=key or None, endpoint=endpoint or None)
    where = chosen.filter(project)
    series = await usage.series(session, where=where, bucket=bucket, now=access.now(request))
    return runtime(request).templates.render(
        request,
        "projects/usage.html",
        project=project,
        role=found.role,
        bucket=bucket,
        chosen=chosen,
        all_keys=list(reversed(await keys.list_api_keys(session, project))),
        all_endpoints=await service.list_endpoints(session, project),
        series=series,
        total=series.total,
        charts=charts(series),
        per_key=await usage.by_key(session, where=where, since=series.start),
        per_endpoint=await usage.by_endpoint(session, where=where, since=series.start),
        recent=await usage.recent(session, where=where, limit=RECENT_ON_PAGE),
        recent_limit=RECENT_ON_PAGE,
    )
