"""Members in the JSON API: list with pending invitations, invite, change a role, remove, cancel."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from xerotier.projects import access, members, operations
from xerotier.projects.access import Db, Verified
from xerotier.projects.models import MemberRole
from xerotier.projects.schemas import InvitationOut, InviteIn, InviteOut, MemberOut, MembersOut, RoleIn
from xerotier.web.deps import IntId

router = APIRouter()


@router.get("/{project_id}/members", response_model=MembersOut, summary="Members and pending invitations")
async def list_members(session: Db, user: Verified, project_id: str) -> MembersOut:
    found = await access.member(session, user, project_id)
    people = await members.list_members(session, found.project)
    pending = await members.list_invitations(session, found.project)
    return MembersOut(
        members=[MemberOut(user_id=u.id, email=u.email, role=MemberRole(r).value) for u, r in people],
        invitations=[
            InvitationOut(id=i.id, email=i.email, role=MemberRole(i.role).value, created_at=i.created_at)
            for i in pending
        ],
    )


@router.post(
    "/{project_id}/members",
    response_model=InviteOut,
    status_code=201,
    summary="Invite by email: existing users join at once, other addresses when they register",
    responses={200: {"description": "Already a member or invited (nothing new was created)"}},
)
async def invite(
    request: Request, response: Response, session: Db, user: Verified, project_id: str, body: InviteIn
) -> InviteOut:
    owner = await access.owner(session, user, project_id)
    result = await operations.invite(request, session, owner, user, email=body.email, role=body.role)
    if result.outcome == "already":
        response.status_code = 200
    return InviteOut(result=result.outcome, email=result.email, role=body.role)


@router.patch("/{project_id}/members/{user_id}", response_model=MemberOut, summary="Change a member's role")
async def change_role(
    request: Request, session: Db, user: Verified, project_id: str, user_id: IntId, body: RoleIn
) -> MemberOut:
    owner = await access.owner(session, user, project_id)
    await members.set_role(
        session,
        project=owner.project,
        user_id=user_id,
        role=body.role,
        now=access.now(request),
        actor=access.actor(request, user),
    )
    email = next(u.email for u, _ in await members.list_members(session, owner.project) if u.id == user_id)
    return MemberOut(user_id=user_id, email=email, role=body.role)


@router.delete("/{project_id}/members/{user_id}", status_code=204, summary="Remove a member")
async def remove_member(
    request: Request, session: Db, user: Verified, project_id: str, user_id: IntId
) -> Response:
    owner = await access.owner(session, user, project_id)
    await members.remove(
        session,
        project=owner.project,
        user_id=user_id,
        now=access.now(request),
        actor=access.actor(request, user),
    )
    return Response(status_code=204)


@router.delete(
    "/{project_id}/invitations/{invitation_id}", status_code=204, summary="Cancel a pending invitation"
)
async def cancel_invitation(
    request: Request, session: Db, user: Verified, project_id: str, invitation_id: IntId
) -> Response:
    owner = await access.owner(session, user, project_id)
    await operations.cancel_invitation(request, session, owner, user, invitation_id)
    return Response(status_code=204)
