"""Usage of one project for the dashboard: the filter from the query string, and the charts."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.projects import access, service
from xerotier.projects.models import ApiKey, Endpoint, Project
from xerotier.usage import service as usage
from xerotier.web.charts import ChartSeries, Tick, bar_chart

MAX_RECENT = 500


@dataclass(frozen=True, slots=True)
class Selection:
    """The key and endpoint a report is narrowed to (both optional), resolved within the project."""

    key: ApiKey | None
    endpoint: Endpoint | None

    def filter(self, project: Project) -> usage.Filter:
        return usage.Filter(
            project_id=project.id,
            api_key_id=self.key.id if self.key else None,
            endpoint_id=self.endpoint.id if self.endpoint else None,
        )


async def select_filters(
    session: AsyncSession, project: Project, *, key: str | None, endpoint: str | None
) -> Selection:
    """Unknown keys and endpoints (or those of another project) are 404s, like any unknown id."""
    return Selection(
        key=await access.key_in(session, project, key) if key else None,
        endpoint=await service.get_endpoint(session, project, endpoint) if endpoint else None,
    )


def _labels(series: usage.Series) -> tuple[list[str], list[Tick]]:
    if series.bucket == "hour":
        labels = [p.start.strftime("%Y-%m-%d %H:00 UTC") for p in series.points]
        ticks = [  # midnight carries the date, so two days of hours read unambiguously
            Tick(i, p.start.strftime("%m-%d" if p.start.hour == 0 else "%H:00"), major=p.start.hour % 12 == 0)
            for i, p in enumerate(series.points)
            if p.start.hour % 6 == 0
        ]
    else:
        labels = [p.start.strftime("%Y-%m-%d") for p in series.points]
        last = len(series.points) - 1
        ticks = [
            Tick(i, p.start.strftime("%m-%d"), major=(last - i) % 10 == 0)
            for i, p in enumerate(series.points)
            if (last - i) % 5 == 0
        ]
    return labels, ticks


def charts(series: usage.Series) -> dict[str, Markup]:
    """Requests, errors and tokens (prompt and completion stacked) per bucket."""
    labels, ticks = _labels(series)
    points = series.points
    return {
        "requests": bar_chart(
            title="Requests",
            labels=labels,
            series=[ChartSeries("requests", [p.requests for p in points])],
            ticks=ticks,
        ),
        "errors": bar_chart(
            title="Errors (status 400 and above)",
            labels=labels,
            series=[ChartSeries("errors", [p.errors for p in points], "bar err")],
            ticks=ticks,
        ),
        "tokens": bar_chart(
            title="Tokens",
            labels=labels,
            series=[
                ChartSeries("prompt tokens", [p.prompt_tokens for p in points]),
                ChartSeries("completion tokens", [p.completion_tokens for p in points], "bar alt"),
            ],
            ticks=ticks,
        ),
    }
