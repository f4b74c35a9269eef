"""What every project page and API route starts from: a transaction, the caller, their role.

Project access needs a verified email address (defence in depth: invitations are applied only
at verification, so an unverified account has no memberships anyway).

``Db`` (from web.deps) commits *before* the response is sent: a browser following the 303 after a
change, or a script making its next call, always sees the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from xerotier.accounts.models import User
from xerotier.audit import store as audit
from xerotier.errors import NotFoundError
from xerotier.projects import members
from xerotier.projects.keys import get_api_key
from xerotier.projects.members import Membership
from xerotier.projects.models import ApiKey, Project
from xerotier.web import deps
from xerotier.web.deps import client_ip, runtime, verified_user

Db = deps.Db
Verified = Annotated[User, Depends(verified_user)]


def actor(request: Request, user: User) -> audit.Actor:
    return audit.Actor(user.id, user.email, client_ip(request))


def now(request: Request) -> datetime:
    return runtime(request).clock()


async def member(session: AsyncSession, user: User, project_id: str) -> Membership:
    """Any member (404 for everyone else: unknown and forbidden projects look the same)."""
    return await members.membership(session, user=user, external_id=project_id)


async def owner(session: AsyncSession, user: User, project_id: str) -> Membership:
    """An owner (403 for members, 404 for everyone else)."""
    return await members.require_owner(session, user=user, external_id=project_id)


async def key_in(session: AsyncSession, project: Project, key_id: str) -> ApiKey:
    """A key of this project; a key of another project is as unknown as a made-up id."""
    try:
        record = await get_api_key(session, key_id)
    except NotFoundError:
        record = None
    if record is None or record.project_id != project.id:
        raise NotFoundError("No such API key in this project.", param="key_id")
    return record
