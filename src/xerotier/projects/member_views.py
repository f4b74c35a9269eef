"""Member forms: invite by email, change a role, remove a member, cancel a pending invitation.

Only owners get here; ``members`` keeps at least one owner in every project.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xerotier.errors import ValidationError
from xerotier.projects import access, members, operations
from xerotier.projects.access import Db, Verified
from xerotier.projects.project_pages import back, render_project
from xerotier.web.deps import IntId

router = APIRouter(include_in_schema=False)
Role = Annotated[str, Form(max_length=20)]


@router.post("/projects/{project_id}/members")
async def invite(
    request: Request,
    session: Db,
    user: Verified,
    project_id: str,
    email: Annotated[str, Form(max_length=1000)] = "",
    role: Role = "member",
) -> Response:
    owner = await access.owner(session, user, project_id)
    try:
        result = await operations.invite(request, session, owner, user, email=email, role=role)
    except ValidationError as exc:
        return await render_project(
            request,
            session,
            owner,
            user,
            status=400,
            error=exc.message,
            form="invite",
            values={"email": email, "role": role},
        )
    return back(project_id, f"member-{result.outcome}", "members")


@router.post("/projects/{project_id}/members/{user_id}/role")
async def change_role(
    request: Request, session: Db, user: Verified, project_id: str, user_id: IntId, role: Role = ""
) -> Response:
    owner = await access.owner(session, user, project_id)
    try:
        await members.set_role(
            session,
            project=owner.project,
            user_id=user_id,
            role=role,
            now=access.now(request),
            actor=access.actor(request, user),
        )
    except ValidationError as exc:
        return await render_project(request, session, owner, user, status=400, error=exc.message)
    return back(project_id, "role-changed", "members")


@router.post("/projects/{project_id}/members/{user_id}/remove")
async def remove(request: Request, session: Db, user: Verified, project_id: str, user_id: IntId) -> Response:
    owner = await access.owner(session, user, project_id)
    try:
        await members.remove(
            session,
            project=owner.project,
            user_id=user_id,
            now=access.now(request),
            actor=access.actor(request, user),
        )
    except ValidationError as exc:
        return await render_project(request, session, owner, user, status=400, error=exc.message)
    if user_id == user.id:  # you left the project: its page is no longer yours to see
        return RedirectResponse("/projects", status_code=303)
    return back(project_id, "member-removed", "members")


@router.post("/projects/{project_id}/invitations/{invitation_id}/cancel")
async def cancel_invitation(
    request: Request, session: Db, user: Verified, project_id: str, invitation_id: IntId
) -> Response:
    owner = await access.owner(session, user, project_id)
    await operations.cancel_invitation(request, session, owner, user, invitation_id)
    return back(project_id, "invitation-cancelled", "members")
