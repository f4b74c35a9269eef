"""Usage: hourly and daily series, per-key and per-endpoint totals, recent requests — on every engine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import DATABASES
from tests.functional.projects.conftest import Browser, Harness, add_endpoint, add_key
from xerotier.projects.models import ApiKey, Endpoint, Project
from xerotier.usage.models import UsageEvent
from xerotier.web.charts import ChartSeries, Tick, bar_chart, compact, nice_ceiling

NOW = datetime(2031, 5, 10, 12, 30, tzinfo=UTC)


@dataclass
class Fixture:
    owner: Browser
    pid: str
    svc: str  # key ids
    leaky: str


async def _event(
    h: Harness,
    *,
    at: datetime,
    key: str,
    endpoint: str | None,
    status: int = 200,
    tokens: tuple[int, int] = (0, 0),
    ip: str = "10.0.0.5",
    request_id: str = "",
) -> None:
    async with h.sessions() as session, session.begin():
        record = await session.scalar(select(ApiKey).where(ApiKey.external_id == key))
        assert record is not None
        endpoint_id = None
        if endpoint is not None:
            endpoint_id = await session.scalar(
                select(Endpoint.id).where(Endpoint.project_id == record.project_id, Endpoint.slug == endpoint)
            )
        session.add(
            UsageEvent(
                created_at=at,
                project_id=record.project_id,
                endpoint_id=endpoint_id,
                api_key_id=record.id,
                operation="chat.completions",
                status=status,
                error_code="upstream_error" if status >= 500 else None,
                latency_ms=12.4,
                ttft_ms=None,
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
                client_ip=ip,
                request_id=request_id or f"req_{at:%d%H%M}{key[-4:]}",
            )
        )


@pytest.fixture
async def usage(harness: Harness) -> Fixture:
    harness.clock.now = NOW
    owner = await harness.signed_in("owner@example.com")
    pid = await harness.project(owner)
    await add_endpoint(owner, pid, "chat")
    await add_endpoint(owner, pid, "embed")
    svc, _ = await add_key(owner, pid, "svc")
    leaky, _ = await add_key(owner, pid, "leaky")
    other = await harness.project(owner, "other", "Other")
    other_key, _ = await add_key(owner, other, "elsewhere")
    hour = timedelta(hours=1)
    await _event(harness, at=NOW, key=svc, endpoint="chat", tokens=(10, 5), request_id="req_newest")
    await _event(harness, at=NOW - hour, key=svc, endpoint="chat", status=500)
    await _event(harness, at=NOW - 3 * hour, key=leaky, endpoint="embed", tokens=(100, 0), ip="203.0.113.9")
    await _event(harness, at=NOW - 48 * hour, key=leaky, endpoint="chat", status=429, tokens=(7, 0))
    await _event(harness, at=NOW - 40 * 24 * hour, key=svc, endpoint="chat", tokens=(1, 1))
    await _event(harness, at=NOW, key=other_key, endpoint=None, tokens=(999, 999))
    return Fixture(owner=owner, pid=pid, svc=svc, leaky=leaky)


@pytest.mark.parametrize("database", DATABASES)
async def test_hourly_series(harness: Harness, usage: Fixture) -> None:
    response = await usage.owner.api("GET", f"/api/projects/{usage.pid}/usage/series?bucket=hour")
    assert response.status_code == 200, response.text
    body = response.json()
    points = body["points"]
    assert len(points) == 48
    assert points[-1]["start"] == "2031-05-10T12:00:00Z" and points[0]["start"] == "2031-05-08T13:00:00Z"
    assert body["start"] == "2031-05-08T13:00:00Z" and body["end"] == "2031-05-10T13:00:00Z"
    assert points[-1] == {
        "start": "2031-05-10T12:00:00Z",
        "requests": 1,
        "errors": 0,
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    assert (points[-2]["requests"], points[-2]["errors"]) == (1, 1)
    assert points[-4]["prompt_tokens"] == 100
    assert body["total"] == {"requests": 3, "errors": 1, "prompt_tokens": 110, "completion_tokens": 5}
    assert body["key"] is None and body["endpoint"] is None


@pytest.mark.parametrize("database", DATABASES)
async def test_daily_series_and_filters(harness: Harness, usage: Fixture) -> None:
    base = f"/api/projects/{usage.pid}/usage/series?bucket=day"
    body = (await usage.owner.api("GET", base)).json()
    points = body["points"]
    assert len(points) == 30 and points[-1]["start"] == "2031-05-10T00:00:00Z"
    assert points[-1]["requests"] == 3 and points[-3]["requests"] == 1 and points[-3]["errors"] == 1
    assert body["total"]["requests"] == 4  # the event 40 days ago is outside the window

    leaky = (await usage.owner.api("GET", f"{base}&key={usage.leaky}")).json()
    assert leaky["key"] == usage.leaky and leaky["total"]["requests"] == 2
    embed = (await usage.owner.api("GET", f"{base}&endpoint=embed")).json()
    assert embed["endpoint"] == "embed" and embed["total"] == {
        "requests": 1,
        "errors": 0,
        "prompt_tokens": 100,
        "completion_tokens": 0,
    }
    both = (await usage.owner.api("GET", f"{base}&endpoint=chat&key={usage.svc}")).json()
    assert both["total"]["requests"] == 2


@pytest.mark.parametrize("database", DATABASES)
async def test_recent_requests(harness: Harness, usage: Fixture) -> None:
    url = f"/api/projects/{usage.pid}/usage/recent"
    rows = (await usage.owner.api("GET", url)).json()
    assert len(rows) == 5  # newest first, the other project's request excluded
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    newest = rows[0]
    assert (
        newest["request_id"] == "req_newest" and newest["key_name"] == "svc" and newest["endpoint"] == "chat"
    )
    assert newest["status"] == 200 and newest["prompt_tokens"] == 10 and newest["client_ip"] == "10.0.0.5"
    assert newest["key_prefix"].startswith("xero_alpha_") and newest["latency_ms"] == 12.4

    leaky = (await usage.owner.api("GET", f"{url}?key={usage.leaky}")).json()
    assert [(r["status"], r["client_ip"]) for r in leaky] == [(200, "203.0.113.9"), (429, "10.0.0.5")]
    assert len((await usage.owner.api("GET", f"{url}?limit=2")).json()) == 2
    assert len((await usage.owner.api("GET", f"{url}?endpoint=embed")).json()) == 1


async def test_usage_page(harness: Harness, usage: Fixture) -> None:
    page = await usage.owner.get(f"/projects/{usage.pid}/usage")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg class="chart-svg"') == 3
    assert '<rect class="bar"' in html and '<rect class="bar err"' in html and '<rect class="bar alt"' in html
    assert "2031-05-10 11:00 UTC · errors: 1" in html
    assert " style=" not in html and "<script>" not in html and "cdn" not in html.lower()
    totals = re.search(r'id="usage-totals">(.*?)</div>\s*</div>', html, re.S)
    assert totals and re.sub(r"\s+", " ", totals.group(1)).count('class="stat">3<') == 1
    recent = html.split('id="recent-requests"')[1]
    assert recent.count("<tr data-request=") == 5
    assert recent.index("req_newest") < recent.index("203.0.113.9")
    per_key = html.split('id="per-key"')[1].split("</table>")[0]
    assert "svc" in per_key and "leaky" in per_key and "elsewhere" not in per_key

    filtered = (await usage.owner.get(f"/projects/{usage.pid}/usage?key={usage.leaky}&bucket=day")).text
    recent = filtered.split('id="recent-requests"')[1]
    assert recent.count("<tr data-request=") == 2 and "req_newest" not in recent
    assert f'<option value="{usage.leaky}" selected>' in filtered
    assert '<option value="day" selected>' in filtered


async def test_members_see_usage_and_bad_filters_are_refused(harness: Harness, usage: Fixture) -> None:
    owner, pid = usage.owner, usage.pid
    await harness.user("dev@example.com")
    await owner.api("POST", f"/api/projects/{pid}/members", {"email": "dev@example.com"})
    dev = await harness.login("dev@example.com")
    assert (await dev.get(f"/projects/{pid}/usage")).status_code == 200
    assert (await dev.api("GET", f"/api/projects/{pid}/usage/recent")).status_code == 200

    async with harness.sessions() as session:
        other_key = await session.scalar(
            select(ApiKey.external_id)
            .join(Project, Project.id == ApiKey.project_id)
            .where(Project.slug == "other")
        )
    for query, status in [
        ("series?bucket=week", 400),
        ("recent?limit=0", 400),
        ("recent?limit=501", 400),
        ("recent?limit=ten", 400),
        (f"recent?key={'k' * 65}", 400),
        ("recent?key=key_unknown", 404),
        (f"series?key={other_key}", 404),
        ("series?endpoint=nope", 404),
    ]:
        response = await owner.api("GET", f"/api/projects/{pid}/usage/{query}")
        assert response.status_code == status, (query, response.text)
        assert "error" in response.json()
    assert (await owner.get(f"/projects/{pid}/usage?key=key_unknown")).status_code == 404
    assert (await owner.get(f"/projects/{pid}/usage?bucket=week")).status_code == 400


def test_chart_rendering() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 120, 501)] == [1, 1, 5, 10, 10, 20, 200, 1000]
    assert [compact(v) for v in (999, 1000, 1234, 3_400_000)] == ["999", "1k", "1.2k", "3.4M"]
    svg = bar_chart(
        title="Req <&>",
        labels=["a", "<b>", "c"],
        series=[ChartSeries("ok", [1, 0, 4]), ChartSeries("err", [1, 0, 0], "bar err")],
        ticks=[Tick(1, "<t>"), Tick(9, "out of range")],
    )
    assert svg.count("<rect ") == 3 and "style=" not in svg
    assert "<b>" not in svg and "&lt;b&gt;" not in svg  # the empty bar has no tooltip
    assert "Req &lt;&amp;&gt;" in svg and "&lt;t&gt;" in svg and "out of range" not in svg
    empty = bar_chart(title="t", labels=["x"], series=[ChartSeries("s", [0])], ticks=[])
    assert "No requests in this period" in empty and "<rect" not in empty
    with pytest.raises(ValueError, match="one value per label"):
        bar_chart(title="t", labels=["x"], series=[ChartSeries("s", [1, 2])], ticks=[])
