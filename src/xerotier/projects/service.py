"""Projects, members and endpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier import ids
from xerotier.accounts.models import User
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import AlreadyExistsError, NotFoundError
from xerotier.projects import changes, validation
from xerotier.projects.models import Endpoint, MemberRole, Project, ProjectMember
from xerotier.security.crypto import KeyRing

UPSTREAM_KEY_AAD = b"endpoint.upstream_api_key"


async def create_project(
    session: AsyncSession, *, name: str, slug: str, owner: User, now: datetime, actor: audit.Actor
) -> Project:
    slug = validation.slug(slug)
    if await session.scalar(select(Project.id).where(Project.slug == slug)) is not None:
        raise AlreadyExistsError(f"project slug {slug!r} is taken", param="slug")
    project = Project(external_id=ids.project_id(), slug=slug, name=validation.name(name), created_at=now)
    session.add(project)
    await session.flush()
    session.add(ProjectMember(project_id=project.id, user_id=owner.id, role=MemberRole.OWNER, created_at=now))
    audit.record(
        session,
        action=AuditAction.PROJECT_CREATE,
        actor=actor,
        now=now,
        target=project.external_id,
        project_id=project.id,
        details={"slug": slug},
    )
    await changes.bump(session)
    return project


async def get_project(session: AsyncSession, ref: str) -> Project:
    """Find a project by its external id (``proj_…``) or its slug."""
    column = Project.external_id if ref.startswith("proj_") else Project.slug
    project = await session.scalar(select(Project).where(column == ref))
    if project is None:
        raise NotFoundError(f"no project {ref!r}", param="project")
    return project


async def get_endpoint(session: AsyncSession, project: Project, slug: str) -> Endpoint:
    endpoint = await session.scalar(
        select(Endpoint).where(Endpoint.project_id == project.id, Endpoint.slug == slug)
    )
    if endpoint is None:
        raise NotFoundError(f"no endpoint {slug!r} in project {project.slug!r}", param="endpoint")
    return endpoint


async def create_endpoint(
    session: AsyncSession,
    *,
    project: Project,
    slug: str,
    upstream_url: str,
    upstream_model: str | None,
    upstream_key: str | None,
    rpm_limit: int | None,
    tpm_limit: int | None,
    key_ring: KeyRing,
    now: datetime,
    actor: audit.Actor,
) -> Endpoint:
    slug = validation.slug(slug, what="endpoint slug")
    existing = await session.scalar(
        select(Endpoint.id).where(Endpoint.project_id == project.id, Endpoint.slug == slug)
    )
    if existing is not None:
        raise AlreadyExistsError(f"endpoint {slug!r} already exists in this project", param="slug")
    endpoint = Endpoint(
        project_id=project.id,
        slug=slug,
        upstream_url=validation.upstream_url(upstream_url),
        upstream_model=(upstream_model or "").strip() or None,
        upstream_key_encrypted=key_ring.encrypt(upstream_key, aad=UPSTREAM_KEY_AAD) if upstream_key else None,
        rpm_limit=validation.limit(rpm_limit, what="rpm"),
        tpm_limit=validation.limit(tpm_limit, what="tpm"),
        is_active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    audit.record(
        session,
        action=AuditAction.ENDPOINT_CREATE,
        actor=actor,
        now=now,
        target=f"{project.external_id}/{slug}",
        project_id=project.id,
        details={"upstream_url": endpoint.upstream_url, "rpm": rpm_limit, "tpm": tpm_limit},
    )
    await changes.bump(session)
    return endpoint


async def set_endpoint_active(
    session: AsyncSession, *, endpoint: Endpoint, active: bool, now: datetime, actor: audit.Actor
) -> Endpoint:
    endpoint.is_active = active
    endpoint.updated_at = now
    audit.record(
        session,
        action=AuditAction.ENDPOINT_UPDATE,
        actor=actor,
        now=now,
        target=f"endpoint:{endpoint.id}",
        project_id=endpoint.project_id,
        details={"active": active},
    )
    await changes.bump(session)
    return endpoint
