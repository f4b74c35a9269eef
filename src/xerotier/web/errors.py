"""Errors outside the inference paths still answer in the OpenAI envelope (API clients hit them)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from xerotier.gateway.errors import envelope

_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = envelope(exc.status_code, _CODES.get(exc.status_code), str(exc.detail))
    return Response(body, status_code=exc.status_code, media_type="application/json", headers=exc.headers)
