from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.audit.models import AuditAction, AuditEvent


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a signed-in user, or an operator at the command line."""

    user_id: int | None
    label: str
    ip: str | None = None


CLI_ACTOR = Actor(user_id=None, label="cli")


def record(
    session: AsyncSession,
    *,
    action: AuditAction,
    actor: Actor,
    now: datetime,
    target: str | None = None,
    project_id: int | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Add an audit row to the caller's transaction, so it commits with the change itself."""
    session.add(
        AuditEvent(
            created_at=now,
            action=action,
            actor_user_id=actor.user_id,
            actor_label=actor.label,
            ip=actor.ip,
            target=target,
            project_id=project_id,
            details=orjson.dumps(details).decode() if details else None,
        )
    )
