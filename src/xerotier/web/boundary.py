"""The one place domain errors become responses: pages get HTML, /api gets the JSON envelope."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from xerotier.accounts.auth import InvalidCredentials, InvalidToken
from xerotier.accounts.throttle import Throttled
from xerotier.errors import ErrorCode, NotFoundError, ValidationError, XerotierError
from xerotier.gateway.errors import error_type
from xerotier.projects.members import PermissionDenied
from xerotier.web.deps import SignInRequired, VerificationRequired
from xerotier.web.templating import Templates

STATUS: dict[type[XerotierError], int] = {
    ValidationError: 400,
    InvalidToken: 400,
    InvalidCredentials: 401,
    SignInRequired: 401,
    VerificationRequired: 403,
    PermissionDenied: 403,
    NotFoundError: 404,
}


def _status(exc: XerotierError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 409 if exc.code is ErrorCode.ALREADY_EXISTS else 500


def _templates(request: Request) -> Templates:
    templates: Templates = request.app.state.runtime.templates
    return templates


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _json(
    status: int,
    code: str | None,
    message: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": error_type(status), "code": code, "param": param}},
        status_code=status,
        headers=headers,
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, XerotierError)
    status = _status(exc)
    if isinstance(exc, SignInRequired) and not _is_api(request):
        return RedirectResponse(f"/auth/login?next={quote(request.url.path)}", status_code=303)
    if _is_api(request):
        return _json(status, exc.code, exc.message, exc.param)
    templates = _templates(request)
    return templates.render(
        request,
        "message.html",
        status=status,
        title="Something is not right",
        message=exc.message,
        link="/projects",
        link_text="Back to projects",
    )


async def throttled(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Throttled)
    headers = {"Retry-After": str(int(exc.retry_after) + 1)}
    message = f"Too many attempts. Try again in {exc.minutes} minute(s)."
    if _is_api(request):
        return _json(429, ErrorCode.THROTTLED, message, headers=headers)
    templates = _templates(request)
    response = templates.render(
        request, "message.html", status=429, title="Slow down", message=message, link=None, link_text=""
    )
    response.headers.update(headers)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    if _is_api(request) or "text/html" not in request.headers.get("accept", ""):
        return _json(exc.status_code, codes.get(exc.status_code), str(exc.detail), headers=exc.headers)
    templates = _templates(request)
    return templates.render(
        request,
        "message.html",
        status=exc.status_code,
        title=str(exc.detail),
        message="That page does not exist.",
        link="/",
        link_text="Home",
    )


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    message = (
        f"{location}: {first.get('msg', 'invalid')}" if location else str(first.get("msg", "invalid input"))
    )
    if _is_api(request) or "text/html" not in request.headers.get("accept", ""):
        return _json(400, ErrorCode.INVALID_REQUEST, message, location)
    templates = _templates(request)
    return templates.render(
        request, "message.html", status=400, title="Invalid input", message=message, link=None, link_text=""
    )
