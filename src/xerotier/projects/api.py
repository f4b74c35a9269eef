"""JSON API for projects (``/api/projects``), for the dashboard's scripts and for tools with a session.

Every route needs a signed-in user with a verified email; unsafe methods need ``X-CSRF-Token``
(enforced by the session middleware). Non-members get 404, members 403 on anything that changes
the project. Errors use the envelope ``{"error": {"message", "type", "code", "param"}}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.requests import Request

from xerotier.projects import endpoint_api, key_api, member_api, members, service, usage_api
from xerotier.projects.access import Db, Verified, actor, member, now
from xerotier.projects.models import MemberRole, Project
from xerotier.projects.schemas import ProjectCreate, ProjectOut

router = APIRouter(prefix="/api/projects", tags=["projects"])
ProjectId = Annotated[str, Path(max_length=64, description="proj_… id")]


def project_out(project: Project, role: str) -> ProjectOut:
    return ProjectOut(
        id=project.external_id,
        slug=project.slug,
        name=project.name,
        role=MemberRole(role).value,
        created_at=project.created_at,
    )


@router.get("", response_model=list[ProjectOut], summary="List the projects you belong to")
async def list_projects(session: Db, user: Verified) -> list[ProjectOut]:
    return [project_out(p, role) for p, role in await members.projects_of(session, user)]


@router.post(
    "", response_model=ProjectOut, status_code=201, summary="Create a project (you become its owner)"
)
async def create_project(request: Request, session: Db, user: Verified, body: ProjectCreate) -> ProjectOut:
    project = await service.create_project(
        session,
        name=body.name,
        slug=body.slug,
        owner=user,
        now=now(request),
        actor=actor(request, user),
    )
    return project_out(project, MemberRole.OWNER)


@router.get("/{project_id}", response_model=ProjectOut, summary="One project and your role in it")
async def get_project(session: Db, user: Verified, project_id: ProjectId) -> ProjectOut:
    found = await member(session, user, project_id)
    return project_out(found.project, found.role)


for _part in (endpoint_api, key_api, member_api, usage_api):
    router.include_router(_part.router)
