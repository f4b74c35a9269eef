"""Project pages: list and create. (Project detail pages live in project_pages.py.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xerotier.accounts.models import User
from xerotier.audit import store as audit
from xerotier.errors import AlreadyExistsError, ValidationError
from xerotier.projects import members, service
from xerotier.web.deps import client_ip, current_user, db, runtime, verified_user

router = APIRouter(include_in_schema=False)
Db = Annotated[AsyncSession, Depends(db)]


def actor(request: Request, user: User) -> audit.Actor:
    return audit.Actor(user.id, user.email, client_ip(request))


@router.get("/projects")
async def projects_page(
    request: Request, session: Db, user: Annotated[User, Depends(current_user)]
) -> Response:
    rows = await members.projects_of(session, user)
    return runtime(request).templates.render(request, "projects/list.html", projects=rows, name="", slug="")


@router.post("/projects")
async def create_project(
    request: Request,
    session: Db,
    user: Annotated[User, Depends(verified_user)],
    name: Annotated[str, Form(max_length=200)],
    slug: Annotated[str, Form(max_length=40)],
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
        rows = await members.projects_of(session, user)
        return runtime(request).templates.render(
            request, "projects/list.html", status=400, error=exc.message, projects=rows, name=name, slug=slug
        )
    return RedirectResponse(f"/projects/{project.external_id}", status_code=303)
