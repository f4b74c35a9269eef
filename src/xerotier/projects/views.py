"""Project pages: the list and "new project" here; the project's own pages in the modules included below."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xerotier.accounts.models import User
from xerotier.errors import AlreadyExistsError, ValidationError
from xerotier.projects import (
    endpoint_views,
    key_views,
    member_views,
    members,
    project_pages,
    service,
    usage_views,
)
from xerotier.projects.access import Db, Verified, actor
from xerotier.web.deps import current_user, runtime

router = APIRouter(include_in_schema=False)


async def _list_page(
    request: Request, session: Db, user: User, *, status: int = 200, **form: str
) -> Response:
    # Membership counts once the email is verified (see projects.access), so the list waits too.
    rows = await members.projects_of(session, user) if user.is_verified else []
    values = {"name": "", "slug": ""} | form
    return runtime(request).templates.render(
        request, "projects/list.html", status=status, projects=rows, **values
    )


@router.get("/projects")
async def projects_page(
    request: Request, session: Db, user: Annotated[User, Depends(current_user)]
) -> Response:
    return await _list_page(request, session, user)


@router.post("/projects")
async def create_project(
    request: Request,
    session: Db,
    user: Verified,
    name: Annotated[str, Form(max_length=1000)] = "",
    slug: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        project = await service.create_project(
            session,
            name=name,
            slug=slug.strip().lower(),
            owner=user,
            now=runtime(request).clock(),
            actor=actor(request, user),
        )
    except (ValidationError, AlreadyExistsError) as exc:
        status = 409 if isinstance(exc, AlreadyExistsError) else 400
        return await _list_page(
            request, session, user, status=status, error=exc.message, name=name, slug=slug
        )
    return RedirectResponse(f"/projects/{project.external_id}", status_code=303)


for _pages in (project_pages, endpoint_views, key_views, member_views, usage_views):
    router.include_router(_pages.router)
