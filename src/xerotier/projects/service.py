"""Projects, members and endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier import ids
from xerotier.accounts.models import User
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import AlreadyExistsError, NotFoundError, ValidationError
from xerotier.projects import changes, validation
from xerotier.projects.models import Endpoint, MemberRole, Project, ProjectMember
from xerotier.security.crypto import KeyRing

UPSTREAM_KEY_AAD = b"endpoint.upstream_api_key"
MAX_LIMIT = 1_000_000_000  # fits the INTEGER column on every engine
MAX_UPSTREAM_URL = 2048
MAX_UPSTREAM_MODEL = 255
MAX_UPSTREAM_KEY = 4096


class Keep(Enum):
    """Marks an ``update_endpoint`` field the caller leaves as it is (``None`` means clear)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def _bounded_limit(value: int | None, *, what: str) -> int | None:
    value = validation.limit(value, what=what)
    if value is not None and value > MAX_LIMIT:
        raise ValidationError(f"{what} must be at most {MAX_LIMIT}", param=what)
    return value


def _upstream_url(value: str) -> str:
    if len(value) > MAX_UPSTREAM_URL:
        raise ValidationError(
            f"upstream URL must be at most {MAX_UPSTREAM_URL} characters", param="upstream_url"
        )
    return validation.upstream_url(value)


def _upstream_model(value: str | None) -> str | None:
    value = (value or "").strip() or None
    if value is not None and len(value) > MAX_UPSTREAM_MODEL:
        raise ValidationError(
            f"upstream model must be at most {MAX_UPSTREAM_MODEL} characters", param="upstream_model"
        )
    return value


def _upstream_key(value: str | None) -> str | None:
    value = (value or "").strip() or None
    if value is not None and (len(value) > MAX_UPSTREAM_KEY or not value.isprintable()):
        raise ValidationError(
            f"upstream API key must be at most {MAX_UPSTREAM_KEY} printable characters", param="upstream_key"
        )
    return value


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


async def list_endpoints(session: AsyncSession, project: Project) -> Sequence[Endpoint]:
    rows = await session.scalars(
        select(Endpoint).where(Endpoint.project_id == project.id).order_by(Endpoint.slug)
    )
    return rows.all()


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
    secret = _upstream_key(upstream_key)
    endpoint = Endpoint(
        project_id=project.id,
        slug=slug,
        upstream_url=_upstream_url(upstream_url),
        upstream_model=_upstream_model(upstream_model),
        upstream_key_encrypted=key_ring.encrypt(secret, aad=UPSTREAM_KEY_AAD) if secret else None,
        rpm_limit=_bounded_limit(rpm_limit, what="rpm"),
        tpm_limit=_bounded_limit(tpm_limit, what="tpm"),
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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


async def update_endpoint(
    session: AsyncSession,
    *,
    endpoint: Endpoint,
    key_ring: KeyRing,
    now: datetime,
    actor: audit.Actor,
    upstream_url: str | Keep = KEEP,
    upstream_model: str | Keep | None = KEEP,
    upstream_key: str | Keep | None = KEEP,
    rpm_limit: int | Keep | None = KEEP,
    tpm_limit: int | Keep | None = KEEP,
) -> list[str]:
    """Change an endpoint's upstream settings and limits; ``None`` clears a field, ``KEEP`` leaves it.

    Everything is validated before anything changes. The slug never changes (it is in client URLs
    and key bindings). Returns the names of the fields that changed; the audit row lists them
    (the upstream key only as "set" or "cleared", never its value).
    """
    values: dict[str, object] = {}
    if upstream_url is not KEEP:
        values["upstream_url"] = _upstream_url(upstream_url)
    if upstream_model is not KEEP:
        values["upstream_model"] = _upstream_model(upstream_model)
    if rpm_limit is not KEEP:
        values["rpm_limit"] = _bounded_limit(rpm_limit, what="rpm")
    if tpm_limit is not KEEP:
        values["tpm_limit"] = _bounded_limit(tpm_limit, what="tpm")
    details: dict[str, object] = {}
    if (
        "upstream_url" in values
        and upstream_key is KEEP
        and endpoint.upstream_key_encrypted is not None
        and _origin(str(values["upstream_url"])) != _origin(endpoint.upstream_url)
    ):
        # The stored key was entered for one server; never hand it to another. (An owner could
        # otherwise read a write-only key by pointing the endpoint at a host they control.)
        raise ValidationError(
            "Changing the upstream host needs the upstream API key again: enter it, or clear it.",
            param="upstream_key",
        )
    if upstream_key is not KEEP:
        secret = _upstream_key(upstream_key)
        values["upstream_key_encrypted"] = (
            key_ring.encrypt(secret, aad=UPSTREAM_KEY_AAD) if secret is not None else None
        )
        details["upstream_key"] = "set" if secret is not None else "cleared"
    changed = [
        name
        for name, value in values.items()
        if name == "upstream_key_encrypted" or getattr(endpoint, name) != value
    ]
    if not changed:
        return []
    for name in changed:
        setattr(endpoint, name, values[name])
        if name != "upstream_key_encrypted":
            details[name] = values[name]
    endpoint.updated_at = now
    audit.record(
        session,
        action=AuditAction.ENDPOINT_UPDATE,
        actor=actor,
        now=now,
        target=f"endpoint:{endpoint.id}",
        project_id=endpoint.project_id,
        details=details,
    )
    await changes.bump(session)
    return ["upstream_key" if name == "upstream_key_encrypted" else name for name in changed]
