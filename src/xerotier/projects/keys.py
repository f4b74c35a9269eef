"""API key lifecycle: create (shown once), list, revoke (permanent).

There is no in-place rotation: create a new key, deploy it, then revoke the old one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier import ids
from xerotier.audit import store as audit
from xerotier.audit.models import AuditAction
from xerotier.errors import NotFoundError, ValidationError
from xerotier.projects import changes, validation
from xerotier.projects.models import ApiKey, Endpoint, KeyEnvironment, Project
from xerotier.security import api_keys


@dataclass(frozen=True, slots=True)
class CreatedKey:
    record: ApiKey
    secret: str  # the full key: hand it to the user once, never store or log it


async def create_api_key(
    session: AsyncSession,
    *,
    project: Project,
    name: str,
    environment: str,
    endpoint: Endpoint | None,
    expires_in: timedelta | None,
    allowed_cidrs: Sequence[str],
    pepper: bytes,
    created_by_user_id: int | None,
    now: datetime,
    actor: audit.Actor,
) -> CreatedKey:
    try:
        env = KeyEnvironment(environment)
    except ValueError as exc:
        choices = ", ".join(e.value for e in KeyEnvironment)
        raise ValidationError(f"environment must be one of: {choices}", param="environment") from exc
    if endpoint is not None and endpoint.project_id != project.id:
        raise ValidationError("the endpoint belongs to another project", param="endpoint")
    networks = validation.cidrs(list(allowed_cidrs))
    secret = api_keys.generate(project.slug)
    record = ApiKey(
        external_id=ids.api_key_id(),
        project_id=project.id,
        endpoint_id=endpoint.id if endpoint else None,
        name=validation.name(name),
        environment=env,
        prefix=api_keys.parse(secret).display_prefix,
        digest=api_keys.digest(pepper, secret),
        allowed_cidrs=orjson.dumps(networks).decode() if networks else None,
        created_by_user_id=created_by_user_id,
        created_at=now,
        expires_at=now + expires_in if expires_in else None,
    )
    session.add(record)
    await session.flush()
    audit.record(
        session,
        action=AuditAction.API_KEY_CREATE,
        actor=actor,
        now=now,
        target=record.external_id,
        project_id=project.id,
        details={"name": record.name, "environment": env, "prefix": record.prefix},
    )
    return CreatedKey(record=record, secret=secret)


async def list_api_keys(session: AsyncSession, project: Project) -> Sequence[ApiKey]:
    result = await session.scalars(
        select(ApiKey).where(ApiKey.project_id == project.id).order_by(ApiKey.created_at, ApiKey.id)
    )
    return result.all()


async def get_api_key(session: AsyncSession, external_id: str) -> ApiKey:
    record = await session.scalar(select(ApiKey).where(ApiKey.external_id == external_id))
    if record is None:
        raise NotFoundError(f"no API key {external_id!r}", param="key_id")
    return record


async def revoke_api_key(
    session: AsyncSession, *, external_id: str, now: datetime, actor: audit.Actor
) -> tuple[ApiKey, bool]:
    """Revoke for good. Returns the key and whether this call revoked it (False: already revoked).

    The conditional UPDATE makes concurrent revocations race-free: exactly one wins.
    """
    record = await get_api_key(session, external_id)
    if record.revoked_at is not None:
        return record, False
    seq = await changes.bump(session)
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == record.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now, revoked_seq=seq)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return record, False  # a concurrent call won; the extra counter bump is harmless
    audit.record(
        session,
        action=AuditAction.API_KEY_REVOKE,
        actor=actor,
        now=now,
        target=record.external_id,
        project_id=record.project_id,
        details={"prefix": record.prefix},
    )
    await session.refresh(record)
    return record, True
