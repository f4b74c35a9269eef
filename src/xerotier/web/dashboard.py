"""The dashboard application: pages, the JSON API under /api (OpenAPI at /api/openapi.json), probes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from xerotier import __version__
from xerotier.accounts import settings_views
from xerotier.accounts import views as auth_views
from xerotier.accounts.throttle import Throttled
from xerotier.errors import XerotierError
from xerotier.projects import api as project_api
from xerotier.projects import views as project_views
from xerotier.web import boundary, health
from xerotier.web.auth_state import auth_of

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_dashboard(lifespan: Lifespan) -> FastAPI:
    app = FastAPI(
        title="Xerotier dashboard API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_api_route("/healthz", health.healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", health.readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
    app.include_router(auth_views.router)
    app.include_router(settings_views.pages)
    app.include_router(settings_views.api)
    app.include_router(project_views.router)
    app.include_router(project_api.router)
    app.mount("/static", StaticFiles(packages=[("xerotier.web", "static")]), name="static")
    app.add_exception_handler(Throttled, boundary.throttled)
    app.add_exception_handler(XerotierError, boundary.domain_error)
    app.add_exception_handler(HTTPException, boundary.http_error)
    app.add_exception_handler(RequestValidationError, boundary.validation_error)
    return app


async def home(request: Request) -> Response:
    return RedirectResponse("/projects" if auth_of(request).signed_in else "/auth/login", status_code=303)
