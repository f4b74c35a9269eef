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


def _clean(value: str | None, limit: int = 200) -> str | None:
    """Text a user controls (an email typed at sign-in) reaches the audit log: keep it printable
    (PostgreSQL refuses NUL; control characters would garble log views) and bounded."""
    if value is None:
        return None
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in value[:limit])


def _clean_details(details: dict[str, object]) -> dict[str, object]:
    return {k: _clean(v, 500) if isinstance(v, str) else v for k, v in details.items()}


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
            actor_label=_clean(actor.label, 64) or "",
            ip=actor.ip,
            target=_clean(target),
            project_id=project_id,
            details=orjson.dumps(_clean_details(details)).decode() if details else None,
        )
    )
