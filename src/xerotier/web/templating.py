"""Jinja2 with autoescaping; every page gets the user and its CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from xerotier.web.auth_state import auth_of


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Templates:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("xerotier.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when

    def render(self, request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        auth = auth_of(request)
        context.setdefault("error", None)
        context.setdefault("notice", None)
        html = self.env.get_template(template).render(
            request=request,
            user=auth.user,
            current_session=auth.session,
            csrf_token=auth.csrf_token,
            **context,
        )
        return HTMLResponse(html, status_code=status)
