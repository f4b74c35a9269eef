"""Single-use tokens for email links: issued hashed, consumed with one conditional UPDATE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xerotier.accounts.models import EmailToken, TokenPurpose
from xerotier.security.tokens import new_token, token_hash

LIFETIMES = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=24),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    TokenPurpose.FIRST_ADMIN: timedelta(hours=24),
}


async def issue(session: AsyncSession, *, user_id: int | None, purpose: TokenPurpose, now: datetime) -> str:
    token = new_token()
    session.add(
        EmailToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    await session.flush()
    return token


@dataclass(frozen=True, slots=True)
class Consumed:
    user_id: int | None


async def consume(
    session: AsyncSession, *, token: str, purpose: TokenPurpose, now: datetime
) -> Consumed | None:
    """Mark the token used; None when it is unknown, expired, already used or of another purpose.
    One conditional UPDATE: of concurrent calls with the same token, exactly one wins."""
    if not token or len(token) > 128:
        return None
    row = (
        await session.execute(
            update(EmailToken)
            .where(
                EmailToken.token_hash == token_hash(token),
                EmailToken.purpose == purpose,
                EmailToken.used_at.is_(None),
                EmailToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(EmailToken.id, EmailToken.user_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return Consumed(user_id=row.user_id) if row is not None else None


async def void_all(session: AsyncSession, *, user_id: int, purpose: TokenPurpose, now: datetime) -> None:
    await session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == user_id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=now)
    )


async def peek(session: AsyncSession, *, token: str, purpose: TokenPurpose, now: datetime) -> Consumed | None:
    """Whether the token would be accepted now (nothing is consumed)."""
    if not token or len(token) > 128:
        return None
    row = (
        await session.execute(
            select(EmailToken.user_id).where(
                EmailToken.token_hash == token_hash(token),
                EmailToken.purpose == purpose,
                EmailToken.used_at.is_(None),
                EmailToken.expires_at > now,
            )
        )
    ).first()
    return Consumed(user_id=row.user_id) if row is not None else None
