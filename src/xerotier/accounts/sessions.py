"""Dashboard sessions: server-side, opaque, idle 60 min (extended by activity), absolute 8 h.

The cookie carries a 256-bit random token; the database keeps its SHA-256, so a database leak
does not yield live sessions. ``last_seen_at`` is written at most once a minute per session, so
idle expiry is exact to within that minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts.models import SessionLevel, User, UserSession
from xerotier.security.tokens import new_token, token_hash

IDLE_TIMEOUT = timedelta(minutes=60)
ABSOLUTE_LIFETIME = timedelta(hours=8)
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    session: UserSession
    user: User


async def create(
    session: AsyncSession, *, user: User, ip: str | None, user_agent: str | None, now: datetime
) -> tuple[str, UserSession]:
    token = new_token()
    row = UserSession(
        token_hash=token_hash(token),
        user_id=user.id,
        level=SessionLevel.FULL,
        created_at=now,
        last_seen_at=now,
        absolute_expires_at=now + ABSOLUTE_LIFETIME,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
    )
    session.add(row)
    await session.flush()
    return token, row


def is_live(row: UserSession, now: datetime) -> bool:
    return row.revoked_at is None and now < row.absolute_expires_at and now < row.last_seen_at + IDLE_TIMEOUT


async def load(session: AsyncSession, *, token: str, now: datetime) -> ActiveSession | None:
    """The live session for a cookie token (and its user), extending it by this activity."""
    if not token or len(token) > 128:
        return None
    found = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash(token))
        )
    ).first()
    if found is None:
        return None
    row, user = found
    if not is_live(row, now) or not user.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        await session.flush()
    return ActiveSession(session=row, user=user)


async def list_live(session: AsyncSession, *, user_id: int, now: datetime) -> Sequence[UserSession]:
    rows = await session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    )
    return [r for r in rows if is_live(r, now)]


async def revoke(session: AsyncSession, *, session_id: int, user_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_all(session: AsyncSession, *, user_id: int, now: datetime, keep: int | None = None) -> int:
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep)
    result = await session.execute(query.values(revoked_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
