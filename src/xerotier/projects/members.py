"""Project membership: roles, invitations and the permission check every view relies on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts.models import User
from xerotier.accounts.service import normalize_email
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import ErrorCode, NotFoundError, ValidationError, XerotierError
from xerotier.projects.models import MemberRole, Project, ProjectInvitation, ProjectMember


class PermissionDenied(XerotierError):
    code = ErrorCode.PERMISSION_DENIED


@dataclass(frozen=True, slots=True)
class Membership:
    project: Project
    role: MemberRole

    @property
    def is_owner(self) -> bool:
        return self.role is MemberRole.OWNER


async def membership(session: AsyncSession, *, user: User, external_id: str) -> Membership:
    """The user's role in the project. Unknown projects and non-members look the same (404)."""
    row = (
        await session.execute(
            select(Project, ProjectMember.role)
            .join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(Project.external_id == external_id, ProjectMember.user_id == user.id)
        )
    ).first()
    if row is None:
        raise NotFoundError("No such project.", param="project")
    return Membership(project=row[0], role=MemberRole(row[1]))


async def require_owner(session: AsyncSession, *, user: User, external_id: str) -> Membership:
    found = await membership(session, user=user, external_id=external_id)
    if not found.is_owner:
        raise PermissionDenied("Only project owners can do this.")
    return found


async def projects_of(session: AsyncSession, user: User) -> Sequence[tuple[Project, str]]:
    rows = await session.execute(
        select(Project, ProjectMember.role)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.user_id == user.id)
        .order_by(Project.name)
    )
    return [(p, r) for p, r in rows]


async def list_members(session: AsyncSession, project: Project) -> Sequence[tuple[User, str]]:
    rows = await session.execute(
        select(User, ProjectMember.role)
        .join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project.id)
        .order_by(User.email)
    )
    return [(u, r) for u, r in rows]


async def list_invitations(session: AsyncSession, project: Project) -> Sequence[ProjectInvitation]:
    rows = await session.scalars(
        select(ProjectInvitation)
        .where(ProjectInvitation.project_id == project.id)
        .order_by(ProjectInvitation.email)
    )
    return rows.all()


def _role(value: str) -> MemberRole:
    try:
        return MemberRole(value)
    except ValueError:
        raise ValidationError("role must be owner or member", param="role") from None


async def invite(
    session: AsyncSession,
    *,
    project: Project,
    email: str,
    role: str,
    inviter: User,
    now: datetime,
    actor: audit.Actor,
) -> tuple[str, User | None]:
    """Add an existing user at once, or record an invitation applied when the email registers.
    Returns ("added" | "invited" | "already", the user if one exists)."""
    address, member_role = normalize_email(email), _role(role)
    user = await session.scalar(select(User).where(User.email == address))
    if user is not None:
        exists = await session.scalar(
            select(ProjectMember.user_id).where(
                ProjectMember.project_id == project.id, ProjectMember.user_id == user.id
            )
        )
        if exists is not None:
            return "already", user
        session.add(ProjectMember(project_id=project.id, user_id=user.id, role=member_role, created_at=now))
        audit.record(
            session,
            action=AuditAction.MEMBER_ADD,
            actor=actor,
            now=now,
            target=address,
            project_id=project.id,
            details={"role": member_role},
        )
        return "added", user
    pending = await session.scalar(
        select(ProjectInvitation).where(
            ProjectInvitation.project_id == project.id, ProjectInvitation.email == address
        )
    )
    if pending is not None:
        if pending.role != member_role:
            pending.role = member_role
            audit.record(
                session,
                action=AuditAction.MEMBER_ROLE,
                actor=actor,
                now=now,
                target=address,
                project_id=project.id,
                details={"role": member_role, "pending_invitation": True},
            )
        return "already", None
    session.add(
        ProjectInvitation(
            project_id=project.id,
            email=address,
            role=member_role,
            invited_by_user_id=inviter.id,
            created_at=now,
        )
    )
    audit.record(
        session,
        action=AuditAction.MEMBER_INVITE,
        actor=actor,
        now=now,
        target=address,
        project_id=project.id,
        details={"role": member_role},
    )
    return "invited", None


async def apply_invitations(session: AsyncSession, *, user: User, now: datetime) -> int:
    invitations = (
        await session.scalars(select(ProjectInvitation).where(ProjectInvitation.email == user.email))
    ).all()
    for inv in invitations:
        session.add(ProjectMember(project_id=inv.project_id, user_id=user.id, role=inv.role, created_at=now))
        await session.delete(inv)
    return len(invitations)


async def _owner_count(session: AsyncSession, project: Project) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(ProjectMember)
            .where(ProjectMember.project_id == project.id, ProjectMember.role == MemberRole.OWNER)
        )
        or 0
    )


async def set_role(
    session: AsyncSession, *, project: Project, user_id: int, role: str, now: datetime, actor: audit.Actor
) -> None:
    member = await session.get(ProjectMember, (project.id, user_id))
    if member is None:
        raise NotFoundError("No such member.", param="user")
    new_role = _role(role)
    if (
        member.role == MemberRole.OWNER
        and new_role != MemberRole.OWNER
        and await _owner_count(session, project) <= 1
    ):
        raise ValidationError("A project needs at least one owner.", param="role")
    member.role = new_role
    audit.record(
        session,
        action=AuditAction.MEMBER_ROLE,
        actor=actor,
        now=now,
        target=str(user_id),
        project_id=project.id,
        details={"role": new_role},
    )


async def remove(
    session: AsyncSession, *, project: Project, user_id: int, now: datetime, actor: audit.Actor
) -> None:
    member = await session.get(ProjectMember, (project.id, user_id))
    if member is None:
        raise NotFoundError("No such member.", param="user")
    if member.role == MemberRole.OWNER and await _owner_count(session, project) <= 1:
        raise ValidationError("A project needs at least one owner.", param="user")
    await session.delete(member)
    audit.record(
        session,
        action=AuditAction.MEMBER_REMOVE,
        actor=actor,
        now=now,
        target=str(user_id),
        project_id=project.id,
    )


async def cancel_invitation(session: AsyncSession, *, project: Project, invitation_id: int) -> None:
    await session.execute(
        delete(ProjectInvitation).where(
            ProjectInvitation.id == invitation_id, ProjectInvitation.project_id == project.id
        )
    )
